#include "bind_common.hpp"

#include <optikern/optikern.hpp>

#include <algorithm>
#include <atomic>
#include <tuple>
#include <utility>

namespace optikern::python {

std::string where(const char* name, std::size_t t) {
    return std::string(name) + "[" + std::to_string(t) + "]";
}

std::string type_name(py::handle obj) {
    return py::str(py::type::handle_of(obj).attr("__name__")).cast<std::string>();
}

std::string dtype_name(py::handle array) {
    return py::str(array.attr("dtype")).cast<std::string>();
}

std::string shape_of(py::handle array) {
    return py::str(array.attr("shape")).cast<std::string>();
}

header read_header(PyObject* obj) {
    const auto* a = py::detail::array_proxy(obj);
    const auto* d = py::detail::array_descriptor_proxy(a->descr);
    std::int64_t size = 1;
    for (int k = 0; k < a->nd; ++k) size *= a->dimensions[k];
    const char foreign_order = PY_BIG_ENDIAN ? '<' : '>';
    return {a->data,
            a->nd,
            a->dimensions,
            a->strides,
            a->flags,
            d->type_num,
            d->byteorder != foreign_order,
            size};
}

namespace {

// Dense: the elements fill one block of memory without gaps, in some order of the axes (C,
// Fortran, channels-last, any transpose), with positive strides. The kernels update such an
// array in place as one flat buffer.
bool is_dense(PyObject* obj, const header& h) {
    if (h.flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_) return true;
    const auto item = py::reinterpret_borrow<py::object>(obj).attr("itemsize").cast<py::ssize_t>();
    std::vector<std::pair<py::ssize_t, py::ssize_t>> axes;  // (stride, extent)
    for (int k = 0; k < h.ndim; ++k) {
        if (h.shape[k] == 0) return true;
        if (h.shape[k] > 1) axes.emplace_back(h.strides[k], h.shape[k]);
    }
    std::sort(axes.begin(), axes.end());
    py::ssize_t expected = item;
    for (const auto& [stride, extent] : axes) {
        if (stride != expected) return false;
        expected *= extent;
    }
    return true;
}

}  // namespace

void require_same_layout(const header& a,
                         const header& like,
                         const std::string& name,
                         const std::string& like_name) {
    if (c_contiguous(a) && c_contiguous(like)) return;
    const auto a_item = static_cast<py::ssize_t>(item_size(a.type_num));
    const auto like_item = static_cast<py::ssize_t>(item_size(like.type_num));
    bool same = true;
    for (int k = 0; k < a.ndim; ++k)
        if (a.shape[k] > 1 && a.strides[k] / a_item != like.strides[k] / like_item) same = false;
    if (!same)
        throw py::value_error(
            name + ": expected " +
            (c_contiguous(like) ? std::string("a C-contiguous array like ")
                                : std::string("the memory layout (strides) of ")) +
            like_name + ", got another layout (the kernels pair elements in memory order)");
}

// Bytes per element of the types a step accepts (float64, float32, uint16 views of 16-bit
// floats, the uint8 codes of 8-bit state).
std::size_t item_size(int type_num) {
    if (type_num == py::detail::npy_api::NPY_DOUBLE_) return 8;
    if (type_num == py::detail::npy_api::NPY_FLOAT_) return 4;
    if (type_num == py::detail::npy_api::NPY_UBYTE_) return 1;
    return 2;
}

bool is_float_type(int type_num) {
    return type_num == py::detail::npy_api::NPY_FLOAT_ ||
           type_num == py::detail::npy_api::NPY_DOUBLE_;
}

namespace {

// The checks of checked_array; `name()` is called only to word an error.
template <class Name>
header checked_with(PyObject* obj, Name&& name, bool writeable) {
    if (!py::detail::npy_api::get().PyArray_Check_(obj))
        throw py::type_error(name() + ": expected a numpy.ndarray, got " + type_name(obj));
    const header h = read_header(obj);
    if (!is_dense(obj, h))
        throw py::value_error(name() +
                              ": expected a C-contiguous or otherwise dense array (the kernels "
                              "never work on a copy); make one with numpy.ascontiguousarray");
    if (!(h.flags & py::detail::npy_api::NPY_ARRAY_ALIGNED_))
        throw py::value_error(name() + ": expected an aligned array");
    if (writeable && !(h.flags & py::detail::npy_api::NPY_ARRAY_WRITEABLE_))
        throw py::value_error(name() + ": expected a writeable array, got a read-only one");
    return h;
}

}  // namespace

header checked_array(PyObject* obj, const std::string& name, bool writeable) {
    return checked_with(obj, [&] { return name; }, writeable);
}

header checked_array(PyObject* obj, const char* name, std::size_t index, bool writeable) {
    return checked_with(obj, [&] { return where(name, index); }, writeable);
}

namespace {

// The argument as list/tuple items we can read without calling back into user code.
std::pair<PyObject**, std::size_t> items_of(const role& r) {
    if (!PyList_Check(r.list.ptr()) && !PyTuple_Check(r.list.ptr()))
        throw py::type_error(std::string(r.name) + ": expected a list of numpy arrays, got " +
                             type_name(r.list));
    return {PySequence_Fast_ITEMS(r.list.ptr()),
            static_cast<std::size_t>(PySequence_Fast_GET_SIZE(r.list.ptr()))};
}

// Layout and flag checks common to every role; dtype and shape are checked against the param.
header checked(PyObject* obj, const role& r, std::size_t t) {
    return checked_array(obj, r.name, t, r.writeable);
}

struct byte_range {
    std::uintptr_t begin;
    std::uintptr_t end;
    std::size_t role;
    std::size_t tensor;
    bool writeable;
};

}  // namespace

step_arrays::step_arrays(const std::vector<role>& roles) {
    const role* all = roles.data();
    const std::size_t n_roles = roles.size();
    std::vector<PyObject**> items(n_roles, nullptr);
    std::size_t n = 0;
    std::tie(items[0], count_) = items_of(all[0]);
    for (std::size_t r = 1; r < n_roles; ++r) {
        if (all[r].list.is_none()) continue;
        std::tie(items[r], n) = items_of(all[r]);
        if (n != count_)
            throw py::value_error(std::string(all[r].name) + ": expected " +
                                  std::to_string(count_) + " arrays (one per param), got " +
                                  std::to_string(n));
    }

    arrays_.resize(n_roles * count_);
    data_.resize(n_roles * count_, nullptr);
    types_.resize(n_roles * count_, -1);
    is_double_.resize(count_);
    sizes_.resize(count_);
    std::vector<byte_range> ranges;
    ranges.reserve(n_roles * count_);
    for (std::size_t t = 0; t < count_; ++t) {
        PyObject* param = items[0][t];
        const header p = checked(param, all[0], t);
        if (all[0].type_num >= 0) {
            if (p.type_num != all[0].type_num)
                throw py::type_error(where(all[0].name, t) + ": expected dtype " +
                                     py::str(py::dtype(all[0].type_num)).cast<std::string>() +
                                     ", got " + dtype_name(param));
        } else if (!is_float_type(p.type_num) || !p.native_order)
            throw py::type_error(
                where(all[0].name, t) +
                ": expected a float32 or float64 array in native byte order, got " +
                dtype_name(param));
        is_double_[t] = p.type_num == py::detail::npy_api::NPY_DOUBLE_;
        sizes_[t] = p.size;
        for (std::size_t r = 0; r < n_roles; ++r) {
            if (items[r] == nullptr) continue;
            PyObject* obj = items[r][t];
            const header a = r == 0 ? p : checked(obj, all[r], t);
            const std::size_t bytes = static_cast<std::size_t>(a.size) * item_size(a.type_num);
            if (all[r].scalar) {
                if (!is_float_type(a.type_num) || !a.native_order || a.ndim != 0)
                    throw py::type_error(where(all[r].name, t) +
                                         ": expected a 0-d float32 or float64 array, got " +
                                         dtype_name(obj) + " of shape " + shape_of(obj));
            } else if (r > 0 && all[r].type_num >= 0) {
                if (a.type_num != all[r].type_num || !a.native_order)
                    throw py::type_error(where(all[r].name, t) + ": expected dtype " +
                                         py::str(py::dtype(all[r].type_num)).cast<std::string>() +
                                         ", got " + dtype_name(obj));
                if (a.ndim != p.ndim || !std::equal(a.shape, a.shape + a.ndim, p.shape))
                    throw py::value_error(where(all[r].name, t) + ": expected shape " +
                                          shape_of(param) + " to match " + where(all[0].name, t) +
                                          ", got " + shape_of(obj));
            } else if (r > 0) {
                if (a.type_num != p.type_num || !a.native_order)
                    throw py::type_error(where(all[r].name, t) + ": expected dtype " +
                                         dtype_name(param) + " to match " + where(all[0].name, t) +
                                         ", got " + dtype_name(obj));
                if (a.ndim != p.ndim || !std::equal(a.shape, a.shape + a.ndim, p.shape))
                    throw py::value_error(where(all[r].name, t) + ": expected shape " +
                                          shape_of(param) + " to match " + where(all[0].name, t) +
                                          ", got " + shape_of(obj));
            }
            if (r > 0 && !all[r].scalar && !(c_contiguous(a) && c_contiguous(p)))
                require_same_layout(a, p, where(all[r].name, t), where(all[0].name, t));
            if (bytes > 0) {
                const auto begin = reinterpret_cast<std::uintptr_t>(a.data);
                ranges.push_back({begin, begin + bytes, r, t, all[r].writeable});
            }
            // Owned references keep every array alive while the GIL is released.
            arrays_[r * count_ + t] = py::reinterpret_borrow<py::object>(obj);
            data_[r * count_ + t] = a.data;
            types_[r * count_ + t] = a.type_num;
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

std::int64_t step_arrays::first_nonfinite(std::size_t r) const {
    const auto scan = [&](auto zero) {
        using T = decltype(zero);
        std::vector<array_buffer<const T>> arrays;
        std::vector<std::int64_t> index;
        for (std::size_t t = 0; t < count_; ++t)
            if (is_double_[t] == std::is_same_v<T, double>) {
                arrays.push_back({data<const T>(r, t), sizes_[t]});
                index.push_back(static_cast<std::int64_t>(t));
            }
        const std::int64_t found = optikern::first_nonfinite(arrays.data(), arrays.size());
        return found < 0 ? std::int64_t{-1} : index[static_cast<std::size_t>(found)];
    };
    py::gil_scoped_release release;
    const std::int64_t in_f32 = scan(0.0f);
    const std::int64_t in_f64 = scan(0.0);
    if (in_f32 < 0) return in_f64;
    if (in_f64 < 0) return in_f32;
    return std::min(in_f32, in_f64);
}

lowp_kind lowp_kind_of(PyObject* array, int type_num) {
    constexpr int npy_half = 23;  // NumPy's NPY_HALF (pybind11 names no constant for it)
    if (type_num == npy_half) return lowp_kind::float16;
    static std::atomic<int> bfloat16_type{-1};
    if (type_num == bfloat16_type.load(std::memory_order_relaxed)) return lowp_kind::bfloat16;
    if (type_num < 256) return lowp_kind::none;  // NPY_USERDEF: user dtypes number from 256
    const py::object dtype = py::reinterpret_borrow<py::object>(array).attr("dtype");
    if (dtype.attr("name").cast<std::string>() != "bfloat16" ||
        dtype.attr("itemsize").cast<int>() != 2)
        return lowp_kind::none;
    bfloat16_type.store(type_num, std::memory_order_relaxed);
    return lowp_kind::bfloat16;
}

void register_mixed_config(py::module_& m) {
    py::class_<mixed_config>(m, "MixedPrecision",
                             "float16/bfloat16 params updated from float32 masters in a step: "
                             "the params, the loss scale, the rounding.")
        .def(
            py::init([](py::object lowp_params, double grad_scale, bool stochastic,
                        std::uint64_t seed, std::uint64_t stream, bool master_weights,
                        py::object format) {
                if (!(grad_scale > 0.0) || std::isinf(grad_scale))
                    throw py::value_error(
                        py::str("grad_scale: expected a finite number > 0, got {}")
                            .format(grad_scale)
                            .cast<std::string>());
                if (!PyList_Check(lowp_params.ptr()) && !PyTuple_Check(lowp_params.ptr()))
                    throw py::type_error("lowp_params: expected a list of numpy arrays, got " +
                                         type_name(lowp_params));
                mixed_config out{lowp_params, true, -1, master_weights, {}};
                const bool named = !format.is_none();
                if (named) {
                    const auto name = format.cast<std::string>();
                    if (name != "bfloat16" && name != "float16")
                        throw py::value_error("format: expected 'bfloat16' or 'float16', got '" +
                                              name + "'");
                    out.bfloat16 = name == "bfloat16";
                }
                const std::size_t n = py::len(lowp_params);
                for (std::size_t i = 0; i < n; ++i) {
                    PyObject* p = PySequence_Fast_ITEMS(lowp_params.ptr())[i];
                    const header h = checked_array(p, "lowp_params", i, true);
                    const lowp_kind kind = lowp_kind_of(p, h.type_num);
                    const bool fits = named ? (h.type_num == py::detail::npy_api::NPY_USHORT_ ||
                                               h.type_num == py::detail::npy_api::NPY_SHORT_)
                                            : kind != lowp_kind::none;
                    if (!fits || !h.native_order)
                        throw py::type_error(
                            where("lowp_params", i) +
                            (named ? ": expected an int16 or uint16 view of 16-bit floats, got "
                                   : ": expected a float16 or bfloat16 numpy array, got ") +
                            dtype_name(p));
                    if (i > 0 && h.type_num != out.type_num)
                        throw py::type_error("lowp_params: expected one 16-bit format in one call");
                    out.type_num = h.type_num;
                    if (!named) out.bfloat16 = kind == lowp_kind::bfloat16;
                }
                out.options.grad_scale = grad_scale;
                out.options.mode = stochastic ? rounding::stochastic : rounding::nearest_even;
                out.options.seed = seed;
                out.options.stream = stream;
                return out;
            }),
            py::arg("lowp_params"), py::arg("grad_scale") = 1.0, py::arg("stochastic") = false,
            py::arg("seed") = 0, py::arg("stream") = 0, py::arg("master_weights") = true,
            py::arg("format") = py::none());
}

void require_float32_masters(const step_arrays& arrays) {
    for (std::size_t t = 0; t < arrays.count(); ++t)
        if (arrays.is_double(t))
            throw py::type_error("params[" + std::to_string(t) +
                                 "]: mixed precision keeps float32 master weights, got float64");
}

bool float32_grads_of(const mixed_config* mixed, py::handle grads) {
    if (mixed == nullptr || !(PyList_Check(grads.ptr()) || PyTuple_Check(grads.ptr())) ||
        PySequence_Fast_GET_SIZE(grads.ptr()) == 0)
        return false;
    PyObject* first = PySequence_Fast_ITEMS(grads.ptr())[0];
    return py::detail::npy_api::get().PyArray_Check_(first) &&
           read_header(first).type_num == py::detail::npy_api::NPY_FLOAT_;
}

header checked_master(PyObject* master,
                      std::size_t t,
                      const header& like,
                      PyObject* like_obj,
                      const std::string& like_name) {
    const std::string name = where("params", t);
    const header m = checked_array(master, "params", t, true);
    if (m.type_num != py::detail::npy_api::NPY_FLOAT_ || !m.native_order)
        throw py::type_error(name + ": expected dtype float32, got " + dtype_name(master));
    if (m.ndim != like.ndim || !std::equal(m.shape, m.shape + m.ndim, like.shape))
        throw py::value_error(name + ": expected shape " + shape_of(like_obj) + " to match " +
                              like_name + ", got " + shape_of(master));
    require_same_layout(m, like, name, like_name);
    return m;
}

std::int64_t first_nonfinite_lowp(const step_arrays& arrays,
                                  const mixed_config& spec,
                                  bool float32_grads,
                                  std::size_t low_role,
                                  std::size_t grad_role) {
    std::vector<std::int64_t> sizes;
    for (std::size_t t = 0; t < arrays.count(); ++t) sizes.push_back(arrays.size(t));
    std::int64_t found = -1;
    with_lowp_types(spec, float32_grads, [&](auto p, auto g) {
        using P = decltype(p);
        using G = decltype(g);
        const auto tensors = lowp_tensors<P, G>(arrays, low_role, grad_role);
        py::gil_scoped_release release;
        found = optikern::first_nonfinite(tensors.data(), sizes.data(), tensors.size());
    });
    return found;
}

const code_map& code_map_of(PyObject* qmap,
                            const std::string& name,
                            std::vector<std::unique_ptr<code_map>>& owned) {
    const header h = checked_array(qmap, name, false);
    if (h.type_num != py::detail::npy_api::NPY_FLOAT_ || !h.native_order)
        throw py::type_error(name + ": expected a float32 code map, got " +
                             dtype_name(py::handle(qmap)));
    if (h.ndim != 1 || h.size != code_map::size)
        throw py::value_error(name + ": expected 256 codes, got shape " +
                              shape_of(py::handle(qmap)));
    const auto* codes = reinterpret_cast<const float*>(h.data);
    for (bool is_signed : {true, false}) {
        const code_map& built_in = code_map::dynamic(is_signed);
        if (std::equal(codes, codes + code_map::size, built_in.codes())) return built_in;
    }
    for (const auto& map : owned)
        if (std::equal(codes, codes + code_map::size, map->codes())) return *map;
    try {
        owned.push_back(std::make_unique<code_map>(codes));
    } catch (const std::invalid_argument& e) {
        throw py::value_error(name + ": " + std::string(e.what()).substr(6));  // drop "qmap: "
    }
    return *owned.back();
}

std::int64_t step_number(py::handle step, const std::string& name) {
    const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(step.ptr()));
    if (!index) {
        PyErr_Clear();
        throw py::type_error(name + ": expected an integer, got " +
                             std::string(py::str(py::type::handle_of(step).attr("__name__"))));
    }
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
    if (overflow != 0 || value > max_steps)
        throw py::value_error(name + ": expected at most 2**62, got " +
                              std::string(py::repr(step)));
    return value;
}

void require_positive_step(std::int64_t step) {
    if (step < 1)
        throw py::value_error("step: expected the 1-based number of this step, got " +
                              std::to_string(step));
}

}  // namespace optikern::python
