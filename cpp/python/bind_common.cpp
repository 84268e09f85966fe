#include "bind_common.hpp"

#include <algorithm>
#include <utility>

namespace optikern::python {

namespace {

std::string where(const char* name, std::size_t t) {
    return std::string(name) + "[" + std::to_string(t) + "]";
}

std::string type_name(py::handle obj) {
    return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
}

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

const py::dtype& float32() {
    static const py::dtype d = py::dtype::of<float>();
    return d;
}

const py::dtype& float64() {
    static const py::dtype d = py::dtype::of<double>();
    return d;
}

// The arguments as a sequence we can index without calling back into user code.
py::sequence as_list(const role& r) {
    if (!py::isinstance<py::list>(r.list) && !py::isinstance<py::tuple>(r.list))
        throw py::type_error(std::string(r.name) + ": expected a list of numpy arrays, got " +
                             type_name(r.list));
    return py::reinterpret_borrow<py::sequence>(r.list);
}

// Layout and flag checks common to every role; dtype and shape are checked against the param.
py::array checked(py::handle obj, const role& r, std::size_t t) {
    if (!py::isinstance<py::array>(obj))
        throw py::type_error(where(r.name, t) + ": expected a numpy.ndarray, got " + type_name(obj));
    auto a = py::reinterpret_borrow<py::array>(obj);
    const int flags = py::detail::array_proxy(a.ptr())->flags;
    if (!(flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_))
        throw py::value_error(where(r.name, t) +
                              ": expected a C-contiguous array (the kernels never work on a copy); "
                              "make one with numpy.ascontiguousarray");
    if (!(flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(where(r.name, t) + ": expected an aligned array");
    if (r.writeable && !(flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))
        throw py::value_error(where(r.name, t) + ": expected a writeable array, got a read-only one");
    return a;
}

struct byte_range {
    std::uintptr_t begin;
    std::uintptr_t end;
    std::size_t role;
    std::size_t tensor;
    bool writeable;
};

}  // namespace

step_arrays::step_arrays(std::initializer_list<role> roles) {
    const role* all = roles.begin();
    const std::size_t n_roles = roles.size();
    const py::sequence params = as_list(all[0]);
    count_ = static_cast<std::size_t>(py::len(params));
    std::vector<py::sequence> lists;
    for (const role& r : roles) {
        if (r.list.is_none()) {
            lists.emplace_back();
            continue;
        }
        lists.push_back(as_list(r));
        const auto n = static_cast<std::size_t>(py::len(lists.back()));
        if (n != count_)
            throw py::value_error(std::string(r.name) + ": expected " + std::to_string(count_) +
                                  " arrays (one per param), got " + std::to_string(n));
    }

    arrays_.resize(n_roles * count_);
    is_double_.resize(count_);
    sizes_.resize(count_);
    std::vector<byte_range> ranges;
    for (std::size_t t = 0; t < count_; ++t) {
        const py::array p = checked(params[t], all[0], t);
        if (p.dtype().equal(float32()))
            is_double_[t] = false;
        else if (p.dtype().equal(float64()))
            is_double_[t] = true;
        else
            throw py::type_error(where(all[0].name, t) +
                                 ": expected a float32 or float64 array in native byte order, got " +
                                 dtype_name(p));
        sizes_[t] = static_cast<std::int64_t>(p.size());
        for (std::size_t r = 0; r < n_roles; ++r) {
            if (r > 0 && all[r].list.is_none()) continue;
            py::array a = r == 0 ? p : checked(lists[r][t], all[r], t);
            if (r > 0) {
                if (!a.dtype().equal(p.dtype()))
                    throw py::type_error(where(all[r].name, t) + ": expected dtype " +
                                         dtype_name(p) + " to match " + where(all[0].name, t) +
                                         ", got " + dtype_name(a));
                const bool same_shape =
                    a.ndim() == p.ndim() && std::equal(a.shape(), a.shape() + a.ndim(), p.shape());
                if (!same_shape)
                    throw py::value_error(where(all[r].name, t) + ": expected shape " +
                                          py::str(py::tuple(p.attr("shape"))).cast<std::string>() +
                                          " to match " + where(all[0].name, t) + ", got " +
                                          py::str(py::tuple(a.attr("shape"))).cast<std::string>());
            }
            if (a.nbytes() > 0) {
                const auto begin = reinterpret_cast<std::uintptr_t>(a.data());
                ranges.push_back({begin, begin + static_cast<std::uintptr_t>(a.nbytes()), r, t,
                                  all[r].writeable});
            }
            arrays_[r * count_ + t] = std::move(a);
        }
    }

    // Any overlap that involves a written buffer would make the result depend on the order of
    // the loop; gradients are only read, so they may share memory with each other.
    std::sort(ranges.begin(), ranges.end(),
              [](const byte_range& a, const byte_range& b) { return a.begin < b.begin; });
    const byte_range* furthest_any = nullptr;
    const byte_range* furthest_written = nullptr;
    for (const byte_range& r : ranges) {
        const byte_range* clash = nullptr;
        if (r.writeable && furthest_any != nullptr && r.begin < furthest_any->end)
            clash = furthest_any;
        else if (furthest_written != nullptr && r.begin < furthest_written->end)
            clash = furthest_written;
        if (clash != nullptr)
            throw py::value_error(where(all[clash->role].name, clash->tensor) + " and " +
                                  where(all[r.role].name, r.tensor) +
                                  ": expected separate memory, but the arrays overlap");
        if (furthest_any == nullptr || r.end > furthest_any->end) furthest_any = &r;
        if (r.writeable && (furthest_written == nullptr || r.end > furthest_written->end))
            furthest_written = &r;
    }
}

void require_at_least(double value, double low, const char* what) {
    if (!(value >= low))
        throw py::value_error(py::str("Invalid {}: {}").format(what, value).cast<std::string>());
}

void require_in_unit_interval(double value, const char* what) {
    if (!(value >= 0.0 && value < 1.0))
        throw py::value_error(py::str("Invalid {}: {}").format(what, value).cast<std::string>());
}

void require_positive_step(std::int64_t step) {
    if (step < 1)
        throw py::value_error("step: expected the 1-based number of this step, got " +
                              std::to_string(step));
}

}  // namespace optikern::python
