// One param group of an optimizer class, bound once per kernel (_core.AdamGroup, ...): C++
// optimizer objects (one per storage type present: float32, float64, float16, bfloat16) that
// hold checked views of the group's params and of the arrays in each param's state dict, read
// once when the group is built. A step parses the LIVE group dict (the user may have edited
// it), checks that the params and state arrays are still the registered objects (else it
// raises StaleGroup and the Python layer rebuilds the group), checks only the gradients,
// releases the GIL, updates, and writes each state's new "step".
#pragma once

#include <pybind11/pybind11.h>

#include <optikern/optikern.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bind_common.hpp"
#include "bind_optimizer.hpp"

namespace optikern::python {

// A group's params or state arrays are no longer the ones it was built from.
struct stale_group : std::runtime_error {
    using std::runtime_error::runtime_error;
};

void register_stale_group(py::module_& m);

template <class Kernel>
class optimizer_group {
    static constexpr std::size_t n_state = Kernel::state_names.size();
    static constexpr std::size_t n_scalar = dispatch::scalar_state_count<Kernel>();
    template <class T, class S = T>
    using core = optimizer<Kernel, T, S>;
    enum storage : int { f32, f64, f16, bf16 };

    struct tensor {
        py::object param;
        py::object state;                        // the param's state dict
        std::array<py::object, n_state> arrays;  // registered state arrays (None: unused)
        std::array<py::object, n_state> absmax;  // 8-bit state: its scales and code map
        std::array<py::object, n_state> qmap;
        std::array<py::object, n_scalar> cells;  // registered 0-d state arrays
        std::array<bool, n_state> kept;          // the param's shape keeps state k
        py::object master;                       // registered master_param or None
        py::object step;                         // the "step" object last read or written
        storage kind;
        std::size_t index;  // inside its core
        int type_num;
        bool counts;  // keeps a "step" in its state
    };

public:
    optimizer_group(
        py::list params, py::list states, py::dict group, py::list fresh, std::size_t first_index)
        : f32_(parse_options<Kernel>(group)),
          f64_(f32_.options()),
          f16_(f32_.options()),
          bf16_(f32_.options()) {
        const auto options = f32_.options();
        const std::size_t n = params.size();
        if (states.size() != n || fresh.size() != n)
            throw py::value_error("states, fresh: expected one entry per param");
        for (std::size_t i = 0; i < n; ++i) {
            const std::string name = where("params", first_index + i);
            const std::string state_name = where("state", first_index + i);
            PyObject* p = params[i].ptr();
            const header h = checked_array(p, name, true);
            tensor t;
            t.param = py::reinterpret_borrow<py::object>(p);
            t.state = states[i];
            if (!PyDict_Check(t.state.ptr()))
                throw py::type_error(state_name + ": expected a dict");
            t.type_num = h.type_num;
            if (h.type_num == py::detail::npy_api::NPY_FLOAT_ && h.native_order)
                t.kind = f32;
            else if (h.type_num == py::detail::npy_api::NPY_DOUBLE_ && h.native_order)
                t.kind = f64;
            else {
                const lowp_kind kind = lowp_kind_of(p, h.type_num);
                if (kind == lowp_kind::none || !h.native_order)
                    throw py::type_error(name +
                                         ": expected a float32, float64, float16 or "
                                         "bfloat16 array in native byte order, got " +
                                         dtype_name(p));
                t.kind = kind == lowp_kind::float16 ? f16 : bf16;
            }
            const bool low = t.kind == f16 || t.kind == bf16;
            const int state_type = low || t.kind == f32 ? py::detail::npy_api::NPY_FLOAT_
                                                        : py::detail::npy_api::NPY_DOUBLE_;
            const tensor_shape shape = shape_for<Kernel>(h, name);
            const auto array_in_state = [&](const char* key, std::size_t k) -> py::object {
                PyObject* a = PyDict_GetItemString(t.state.ptr(), key);
                if (a == nullptr) throw py::value_error(state_name + ": lacks '" + key + "'");
                const std::string where_a = state_name + "['" + key + "']";
                const header s = checked_array(a, where_a, true);
                if (s.type_num != state_type || !s.native_order)
                    throw py::type_error(where_a + ": expected dtype " +
                                         std::string(state_type == py::detail::npy_api::NPY_FLOAT_
                                                         ? "float32"
                                                         : "float64") +
                                         ", got " + dtype_name(a));
                if (k < n_state) {
                    require_state_shape<Kernel>(k, s, h, where_a, name);
                } else {
                    if (s.ndim != h.ndim || !std::equal(s.shape, s.shape + s.ndim, h.shape))
                        throw py::value_error(where_a + ": expected shape " + shape_of(p) +
                                              " like the param, got " + shape_of(a));
                    require_same_layout(s, h, where_a, name);
                }
                return py::reinterpret_borrow<py::object>(a);
            };
            std::array<void*, n_state> data{};
            quantized_states<Kernel> quantized{};
            std::vector<py::ssize_t> dims;
            for (std::size_t k = 0; k < n_state; ++k) {
                t.kept[k] = state_dims<Kernel>(k, h, dims);
                if (!Kernel::uses_state(options, k) || !t.kept[k]) continue;
                PyObject* a = PyDict_GetItemString(t.state.ptr(), Kernel::state_names[k]);
                if (a != nullptr && py::detail::npy_api::get().PyArray_Check_(a) &&
                    read_header(a).type_num == py::detail::npy_api::NPY_UBYTE_) {
                    quantized[k] = codes_in_state(t, k, h, name, state_name);
                    continue;
                }
                t.arrays[k] = array_in_state(Kernel::state_names[k], k);
                data[k] = read_header(t.arrays[k].ptr()).data;
            }
            std::array<scalar_cell, n_scalar> cells{};
            for (std::size_t j = 0; j < n_scalar; ++j) {
                const char* key = dispatch::state_name<Kernel>(n_state + j);
                PyObject* a = PyDict_GetItemString(t.state.ptr(), key);
                if (a == nullptr) throw py::value_error(state_name + ": lacks '" + key + "'");
                const std::string where_a = state_name + "['" + key + "']";
                const header s = checked_array(a, where_a, true);
                if (s.ndim != 0 || !s.native_order ||
                    (s.type_num != py::detail::npy_api::NPY_FLOAT_ &&
                     s.type_num != py::detail::npy_api::NPY_DOUBLE_))
                    throw py::type_error(where_a +
                                         ": expected a 0-d float32 or float64 array, got " +
                                         dtype_name(a) + " of shape " + shape_of(a));
                t.cells[j] = py::reinterpret_borrow<py::object>(a);
                cells[j] = {s.data, s.type_num == py::detail::npy_api::NPY_DOUBLE_};
            }
            void* master = nullptr;
            if (low && PyDict_GetItemString(t.state.ptr(), "master_param") != nullptr) {
                t.master = array_in_state("master_param", n_state);
                master = read_header(t.master.ptr()).data;
            }
            t.counts = Kernel::counts_steps || low;
            std::int64_t steps = 0;
            if (PyObject* s = PyDict_GetItemString(t.state.ptr(), "step")) {
                t.step = py::reinterpret_borrow<py::object>(s);
                steps = step_number(py::int_(t.step), "state['step']");
            }
            const bool is_fresh = fresh[i].cast<bool>();
            with_core(t.kind, [&](auto& c) {
                using C = std::decay_t<decltype(c)>;
                using T = std::remove_pointer_t<typename C::state_arrays::value_type>;
                typename C::state_arrays arrays{};
                for (std::size_t k = 0; k < n_state; ++k) arrays[k] = static_cast<T*>(data[k]);
                t.index = c.size();
                try {
                    c.add(reinterpret_cast<storage_of<C>*>(h.data), shape, arrays,
                          static_cast<T*>(master), is_fresh, steps, cells, quantized);
                } catch (const overlap_error& e) {
                    const auto in_group = [&](std::size_t j) {
                        return j == t.index ? i : group_index_[t.kind][j];
                    };
                    throw py::value_error(role_name(in_group(e.tensor_a), e.role_a, first_index) +
                                          " and " +
                                          role_name(in_group(e.tensor_b), e.role_b, first_index) +
                                          ": expected separate memory, but the arrays overlap");
                }
            });
            group_index_[t.kind].push_back(i);
            tensors_.push_back(std::move(t));
        }
        // Overlap across storage types: every written array of the group, sorted once.
        check_overlap_across_cores(first_index);
    }

    // Updates every param with grads[start + i]; returns -1, or with `scan` the global index of
    // the first gradient holding NaN or infinity (then nothing is written). `check_only` runs
    // every check and the scan without writing.
    std::int64_t step(py::handle grads,
                      std::size_t start,
                      py::handle group,
                      bool scan,
                      bool check_only,
                      double grad_scale,
                      bool stochastic,
                      std::uint64_t seed) {
        const auto options = parse_options<Kernel>(group);
        require_current(group, options);
        if (!PyList_Check(grads.ptr()) && !PyTuple_Check(grads.ptr()))
            throw py::type_error("grads: expected a list of numpy arrays, one per param, got " +
                                 type_name(grads));
        const std::size_t n = tensors_.size();
        if (static_cast<std::size_t>(PySequence_Fast_GET_SIZE(grads.ptr())) < start + n)
            throw py::value_error("grads: expected one array per param");
        PyObject** items = PySequence_Fast_ITEMS(grads.ptr()) + start;
        std::array<std::vector<const void*>, 4> per_core;
        std::array<int, 4> grad_float32{-1, -1, -1, -1};  // 16-bit cores: grads float32 or not
        for (std::size_t i = 0; i < n; ++i) {
            const tensor& t = tensors_[i];
            const header g = checked_array(items[i], "grads", start + i, false);
            const auto name = [&] { return where("grads", start + i); };
            const header p = read_header(t.param.ptr());
            const bool low = t.kind == f16 || t.kind == bf16;
            const bool same = g.type_num == t.type_num && g.native_order;
            const bool as_float =
                low && g.type_num == py::detail::npy_api::NPY_FLOAT_ && g.native_order;
            if (!same && !as_float)
                throw py::type_error(name() + ": expected dtype " + dtype_name(t.param) +
                                     (low ? " or float32" : "") + " to match " +
                                     where("params", start + i) + ", got " + dtype_name(items[i]));
            if (low) {
                int& mode = grad_float32[t.kind];
                if (mode >= 0 && mode != static_cast<int>(as_float))
                    throw py::type_error("grads: expected all " + dtype_name(t.param) +
                                         " or all float32 for the " + dtype_name(t.param) +
                                         " params of one group");
                mode = as_float;
            }
            if (g.ndim != p.ndim || !std::equal(g.shape, g.shape + g.ndim, p.shape))
                throw py::value_error(name() + ": expected shape " + shape_of(t.param) +
                                      " to match " + where("params", start + i) + ", got " +
                                      shape_of(items[i]));
            if (!(c_contiguous(g) && c_contiguous(p)))
                require_same_layout(g, p, name(), where("params", start + i));
            per_core[t.kind].push_back(g.data);
        }
        if (grad_scale != 1.0 && (!per_core[f32].empty() || !per_core[f64].empty()))
            throw py::value_error("grad_scale: applies to float16/bfloat16 params only");
        mixed_options mixed;
        mixed.grad_scale = grad_scale;
        mixed.mode = stochastic ? rounding::stochastic : rounding::nearest_even;
        mixed.seed = seed;
        std::int64_t bad = -1;
        for_each_core(per_core, grad_float32, [&](auto& c, auto grad_type, const auto& g) {
            using G = decltype(grad_type);
            const storage kind = kind_of(c);
            try {
                c.check_grads(reinterpret_cast<const G* const*>(g.data()), g.size());
            } catch (const overlap_error& e) {
                throw py::value_error(role_name(group_index_[kind][e.tensor_a], e.role_a, start) +
                                      " and " +
                                      role_name(group_index_[kind][e.tensor_b], e.role_b, start) +
                                      ": expected separate memory, but the arrays overlap");
            }
        });
        if (scan) {
            py::gil_scoped_release release;
            for_each_core(per_core, grad_float32, [&](auto& c, auto grad_type, const auto& g) {
                using G = decltype(grad_type);
                const std::int64_t found =
                    c.first_nonfinite(reinterpret_cast<const G* const*>(g.data()));
                if (found >= 0) {
                    const auto at = static_cast<std::int64_t>(
                        group_index_[kind_of(c)][static_cast<std::size_t>(found)]);
                    if (bad < 0 || at < bad) bad = at;
                }
            });
        }
        if (bad >= 0) return static_cast<std::int64_t>(start) + bad;
        if (check_only) return -1;
        {
            py::gil_scoped_release release;
            for_each_core(per_core, grad_float32, [&](auto& c, auto grad_type, const auto& g) {
                using G = decltype(grad_type);
                c.step_checked(reinterpret_cast<const G* const*>(g.data()), g.size(), mixed);
            });
        }
        write_steps();
        return -1;
    }

    std::size_t size() const { return tensors_.size(); }

private:
    template <class C>
    using storage_of = std::remove_pointer_t<decltype(std::declval<const C&>().param(0))>;

    template <class F>
    void with_core(storage kind, F&& f) {
        switch (kind) {
            case f32:
                return f(f32_);
            case f64:
                return f(f64_);
            case f16:
                return f(f16_);
            default:
                return f(bf16_);
        }
    }

    // Calls f(core, G{}, grads) for every core with tensors, G the gradients' element type.
    template <class F>
    void for_each_core(const std::array<std::vector<const void*>, 4>& grads,
                       const std::array<int, 4>& grad_float32,
                       F&& f) {
        if (!grads[f32].empty()) f(f32_, float{}, grads[f32]);
        if (!grads[f64].empty()) f(f64_, double{}, grads[f64]);
        if (!grads[f16].empty()) {
            if (grad_float32[f16] == 1)
                f(f16_, float{}, grads[f16]);
            else
                f(f16_, float16{}, grads[f16]);
        }
        if (!grads[bf16].empty()) {
            if (grad_float32[bf16] == 1)
                f(bf16_, float{}, grads[bf16]);
            else
                f(bf16_, bfloat16{}, grads[bf16]);
        }
    }

    storage kind_of(const core<float>&) const { return f32; }
    storage kind_of(const core<double>&) const { return f64; }
    storage kind_of(const core<float, float16>&) const { return f16; }
    storage kind_of(const core<float, bfloat16>&) const { return bf16; }

    // The options and the arrays are still those the cores were built from, else StaleGroup.
    void require_current(py::handle group, const typename Kernel::options& options) {
        static PyObject* const params_key = interned("params");
        static PyObject* const master_key = interned("master_param");
        static PyObject* const step_key = interned("step");
        const auto& names = state_keys<Kernel>();
        const auto& absmax_keys = state_keys<Kernel>("_absmax");
        const auto& qmap_keys = state_keys<Kernel>("_qmap");
        PyObject* params = dict_item(group.ptr(), params_key);
        if (params == nullptr || !PyList_Check(params) ||
            static_cast<std::size_t>(PyList_GET_SIZE(params)) != tensors_.size())
            throw stale_group("params changed");
        for (std::size_t i = 0; i < tensors_.size(); ++i) {
            const tensor& t = tensors_[i];
            if (PyList_GET_ITEM(params, i) != t.param.ptr()) throw stale_group("params changed");
            PyObject* state = t.state.ptr();
            for (std::size_t k = 0; k < n_state; ++k) {
                const bool used = Kernel::uses_state(options, k) && t.kept[k];
                if (used && t.arrays[k].ptr() == nullptr) throw stale_group("options need state");
                if (used && dict_item(state, names[k]) != t.arrays[k].ptr())
                    throw stale_group("state replaced");
                if (t.absmax[k].ptr() != nullptr &&
                    (dict_item(state, absmax_keys[k]) != t.absmax[k].ptr() ||
                     dict_item(state, qmap_keys[k]) != t.qmap[k].ptr()))
                    throw stale_group("state replaced");
            }
            for (std::size_t j = 0; j < n_scalar; ++j)
                if (dict_item(state, names[n_state + j]) != t.cells[j].ptr())
                    throw stale_group("state replaced");
            if (t.master.ptr() != nullptr && dict_item(state, master_key) != t.master.ptr())
                throw stale_group("state replaced");
            if (t.counts && dict_item(state, step_key) != t.step.ptr())
                throw stale_group("step replaced");
            if (read_header(t.param.ptr()).data != reinterpret_cast<const char*>(param_data(t)))
                throw stale_group("param memory moved");
        }
        f32_.set_options(options);
        f64_.set_options(options);
        f16_.set_options(options);
        bf16_.set_options(options);
    }

    const void* param_data(const tensor& t) {
        const void* out = nullptr;
        with_core(t.kind, [&](auto& c) { out = c.param(t.index); });
        return out;
    }

    // Each state's "step" becomes its new count (one int object per distinct count).
    void write_steps() {
        std::int64_t last_value = -1;
        py::object last;
        for (tensor& t : tensors_) {
            if (!t.counts) continue;
            std::int64_t value = 0;
            with_core(t.kind, [&](auto& c) { value = c.steps(t.index); });
            if (value != last_value) {
                last = py::int_(value);
                last_value = value;
            }
            static PyObject* const step_key = interned("step");
            if (PyDict_SetItem(t.state.ptr(), step_key, last.ptr()) != 0)
                throw py::error_already_set();
            t.step = last;
        }
    }

    void check_overlap_across_cores(std::size_t first_index) {
        struct span {
            std::uintptr_t begin, end;
            std::size_t tensor;
            int role;
        };
        std::vector<span> spans;
        for (std::size_t i = 0; i < tensors_.size(); ++i) {
            const tensor& t = tensors_[i];
            const auto add = [&](py::handle a, int role) {
                const header h = read_header(a.ptr());
                const auto begin = reinterpret_cast<std::uintptr_t>(h.data);
                const auto bytes = static_cast<std::uintptr_t>(h.size) * item_size(h.type_num);
                if (bytes > 0) spans.push_back({begin, begin + bytes, i, role});
            };
            add(t.param, role_param);
            if (t.master.ptr() != nullptr) add(t.master, role_master);
            for (std::size_t k = 0; k < n_state; ++k) {
                if (t.arrays[k].ptr() != nullptr) add(t.arrays[k], static_cast<int>(k));
                if (t.absmax[k].ptr() != nullptr) add(t.absmax[k], static_cast<int>(k));
            }
            for (std::size_t j = 0; j < n_scalar; ++j)
                add(t.cells[j], static_cast<int>(n_state + j));
        }
        std::sort(spans.begin(), spans.end(),
                  [](const span& a, const span& b) { return a.begin < b.begin; });
        for (std::size_t i = 1; i < spans.size(); ++i)
            if (spans[i].begin < spans[i - 1].end)
                throw py::value_error(
                    role_name(spans[i - 1].tensor, spans[i - 1].role, first_index) + " and " +
                    role_name(spans[i].tensor, spans[i].role, first_index) +
                    ": expected separate memory, but the arrays overlap");
    }

    // "params[7]", "grads[7]", "state[7]['exp_avg']" for tensor i of the group.
    std::string role_name(std::size_t i, int role, std::size_t first_index) const {
        const std::size_t index = first_index + i;
        if (role == role_param) return where("params", index);
        if (role == role_grad) return where("grads", index);
        if (role == role_master) return where("state", index) + "['master_param']";
        return where("state", index) + "['" +
               dispatch::state_name<Kernel>(static_cast<std::size_t>(role)) + "']";
    }

    // State k of tensor t kept in 8 bits: codes under the state's name (uint8, the param's
    // shape and layout), "<name>_absmax" (float32, one per block of 256) and "<name>_qmap".
    quantized_state codes_in_state(tensor& t,
                                   std::size_t k,
                                   const header& param,
                                   const std::string& name,
                                   const std::string& state_name) {
        const std::string key = Kernel::state_names[k];
        const auto where_key = [&](const std::string& k_) { return state_name + "['" + k_ + "']"; };
        if (!quantizable<Kernel>::value)
            throw py::type_error(where_key(key) +
                                 ": expected a float array (this optimizer keeps no 8-bit "
                                 "state), got uint8");
        if (t.kind == f64)
            throw py::type_error(where_key(key) + ": 8-bit state needs float32 or 16-bit params, " +
                                 name + " is " + dtype_name(t.param));
        PyObject* codes = PyDict_GetItemString(t.state.ptr(), key.c_str());
        const header c = checked_array(codes, where_key(key), true);
        if (c.ndim != param.ndim || !std::equal(c.shape, c.shape + c.ndim, param.shape))
            throw py::value_error(where_key(key) + ": expected shape " + shape_of(t.param) +
                                  " like the param, got " + shape_of(codes));
        require_same_layout(c, param, where_key(key), name);
        const auto item = [&](const std::string& suffix, const char* what) {
            PyObject* a = PyDict_GetItemString(t.state.ptr(), (key + suffix).c_str());
            if (a == nullptr)
                throw py::value_error(state_name + ": lacks '" + key + suffix + "' (8-bit '" + key +
                                      "' keeps " + what + ")");
            return py::reinterpret_borrow<py::object>(a);
        };
        t.absmax[k] = item("_absmax", "a float32 scale per block of 256");
        t.qmap[k] = item("_qmap", "its code map");
        const header a = checked_array(t.absmax[k].ptr(), where_key(key + "_absmax"), true);
        const std::int64_t blocks = quantization_blocks(c.size);
        if (a.type_num != py::detail::npy_api::NPY_FLOAT_ || !a.native_order || a.ndim != 1 ||
            a.size != blocks)
            throw py::value_error(where_key(key + "_absmax") + ": expected " +
                                  std::to_string(blocks) + " float32 scales, got " +
                                  dtype_name(t.absmax[k]) + " of shape " + shape_of(t.absmax[k]));
        const code_map& map = code_map_of(t.qmap[k].ptr(), where_key(key + "_qmap"), owned_maps_);
        t.arrays[k] = py::reinterpret_borrow<py::object>(codes);
        return {reinterpret_cast<std::uint8_t*>(c.data), reinterpret_cast<float*>(a.data), &map};
    }

    std::vector<tensor> tensors_;
    std::vector<std::unique_ptr<code_map>> owned_maps_;    // code maps other than the built-in
    std::array<std::vector<std::size_t>, 4> group_index_;  // per core: its tensors' group index
    core<float> f32_;
    core<double> f64_;
    core<float, float16> f16_;
    core<float, bfloat16> bf16_;
};

// _core.<Name>Group(params, states, group, fresh, first_index) with step(grads, start, group,
// scan, check_only, grad_scale, stochastic, seed).
template <class Kernel>
void register_group(py::module_& m, const char* name) {
    py::class_<optimizer_group<Kernel>>(m, name)
        .def(py::init<py::list, py::list, py::dict, py::list, std::size_t>(), py::arg("params"),
             py::arg("states"), py::arg("group"), py::arg("fresh"), py::arg("first_index"))
        .def("step", &optimizer_group<Kernel>::step, py::arg("grads"), py::arg("start"),
             py::arg("group"), py::arg("scan"), py::arg("check_only"), py::arg("grad_scale"),
             py::arg("stochastic"), py::arg("seed"))
        .def("__len__", &optimizer_group<Kernel>::size);
}

}  // namespace optikern::python
