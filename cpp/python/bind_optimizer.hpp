// The one binding template of the optimizers: register_optimizer<Kernel>(m, "adam", {...})
// defines _core.adam_step and _core.adam_check_options from the kernel's own tables (options
// with torch's keys and messages, state names, which state the options use). Nothing numeric
// happens here: the arrays are checked, the options parsed and checked, the GIL released.
#pragma once

#include <pybind11/pybind11.h>

#include <optikern/optikern.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bind_common.hpp"

namespace optikern::python {

// dict[key] (borrowed) or null; unlike PyDict_GetItem it does not save and restore the
// error state on every lookup.
inline PyObject* dict_item(PyObject* dict, PyObject* key) {
    PyObject* found = PyDict_GetItemWithError(dict, key);
    if (found == nullptr && PyErr_Occurred()) throw py::error_already_set();
    return found;
}

// One option read from a param-group dict: a real number or a flag, TypeError otherwise.
// name() words the error (built only then: this runs on every step).
template <class Name>
double real_option(py::handle value, Name&& name) {
    if (PyBool_Check(value.ptr()) || PyUnicode_Check(value.ptr()) || PyBytes_Check(value.ptr()))
        throw py::type_error(
            name() + ": expected a real number, got " +
            py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>());
    const double v = PyFloat_AsDouble(value.ptr());
    if (v == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        throw py::type_error(
            name() + ": expected a real number, got " +
            py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>());
    }
    return v;
}

template <class Name>
bool flag_option(py::handle value, Name&& name) {
    // Python's bool or NumPy's (numpy.bool_), nothing that merely converts to one.
    const bool is_flag =
        PyBool_Check(value.ptr()) ||
        py::str(py::type::handle_of(value).attr("__name__")).cast<std::string>().rfind("bool", 0) ==
            0;
    if (!is_flag)
        throw py::type_error(name() + ": expected True or False, got " +
                             py::repr(value).cast<std::string>());
    return PyObject_IsTrue(value.ptr()) == 1;
}

// A key as an interned str, made once: looking it up costs no allocation.
inline PyObject* interned(const char* key) {
    return PyUnicode_InternFromString(key);  // new reference, kept for the process
}

// The kernel's option keys and state names, interned once.
template <class Kernel>
const std::array<PyObject*, Kernel::fields.size()>& option_keys() {
    static const auto keys = [] {
        std::array<PyObject*, Kernel::fields.size()> out{};
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = interned(Kernel::fields[i].key);
        return out;
    }();
    return keys;
}

// With a suffix: the keys of 8-bit state's scales ("_absmax") and code maps ("_qmap").
template <class Kernel>
const auto& state_keys(const char* suffix = "") {
    // the arrays' names, then the 0-d scalars' (their suffixed keys are never read)
    constexpr std::size_t n = Kernel::state_names.size() + dispatch::scalar_state_count<Kernel>();
    using keys_type = std::array<PyObject*, n>;
    const auto make = [](const char* end) {
        keys_type out{};
        for (std::size_t i = 0; i < n; ++i)
            out[i] = interned((std::string(dispatch::state_name<Kernel>(i)) + end).c_str());
        return out;
    };
    static const keys_type plain = make(""), absmax = make("_absmax"), qmap = make("_qmap");
    const std::string_view which = suffix;
    return which.empty() ? plain : which == "_absmax" ? absmax : qmap;
}

// The distinct option keys of a kernel in table order ("betas" once), and each field's slot.
template <class Kernel>
struct option_slot_table {
    std::array<std::size_t, Kernel::fields.size()> of_field{};
    std::array<const char*, Kernel::fields.size()> keys{};
    std::size_t count = 0;
};

template <class Kernel>
const option_slot_table<Kernel>& option_slots() {
    static const auto table = [] {
        option_slot_table<Kernel> t;
        for (std::size_t i = 0; i < Kernel::fields.size(); ++i) {
            std::size_t slot = 0;
            while (slot < t.count && std::string(t.keys[slot]) != Kernel::fields[i].key) ++slot;
            if (slot == t.count) t.keys[t.count++] = Kernel::fields[i].key;
            t.of_field[i] = slot;
        }
        return t;
    }();
    return table;
}

// The kernel's options from a dict with torch's keys (a param group), checked with torch's
// messages: TypeError for a wrong type, ValueError for a value out of range. A missing key
// takes the option's default, as torch fills keys that older checkpoints lack.
template <class Kernel>
typename Kernel::options parse_options(py::handle group) {
    // A tuple holds the values of option_key_names<Kernel>() in order: the functional API's
    // form, cheaper than building and searching a dict on every call.
    const bool positional = PyTuple_Check(group.ptr());
    const auto& slots = option_slots<Kernel>();
    if (positional && PyTuple_GET_SIZE(group.ptr()) != static_cast<Py_ssize_t>(slots.count))
        throw py::value_error("options: expected a tuple of " + std::to_string(slots.count) +
                              " values (the kernel's option keys in order)");
    if (!positional && !PyDict_Check(group.ptr()))
        throw py::type_error("options: expected a dict (a param group)");
    typename Kernel::options o{};
    const auto& keys = option_keys<Kernel>();
    for (std::size_t i = 0; i < keys.size(); ++i) {
        const auto& f = Kernel::fields[i];
        PyObject* found = positional ? PyTuple_GET_ITEM(group.ptr(), slots.of_field[i])
                                     : dict_item(group.ptr(), keys[i]);
        if (found == nullptr) continue;
        py::handle value = found;
        const auto name = [&] {
            return f.index < 0 ? std::string(f.key)
                               : std::string(f.key) + "[" + std::to_string(f.index) + "]";
        };
        if (f.index >= 0) {
            if (!(PyTuple_Check(found) || PyList_Check(found)) || PySequence_Size(found) != 2)
                throw py::type_error(std::string(f.key) + ": expected a pair, got " +
                                     py::repr(value).cast<std::string>());
            value = PySequence_Fast_ITEMS(found)[f.index];
        }
        if (f.real != nullptr) {
            if ((f.rule == option_rule::non_negative_or_none ||
                 f.rule == option_rule::non_negative_or_unset) &&
                value.is_none())
                continue;
            o.*f.real = real_option(value, name);
            // NaN is how C++ leaves such an option unset; from Python it is a value, invalid
            const bool unset_nan =
                f.rule == option_rule::non_negative_or_unset && o.*f.real != o.*f.real;
            if (!satisfies(f.rule, o.*f.real) || unset_nan)
                throw py::value_error(option_message(f, py::str(value).cast<std::string>()));
        } else {
            o.*f.flag = flag_option(value, name);
        }
    }
    if (const char* message = Kernel::invalid_combination(o)) throw py::value_error(message);
    return o;
}

void register_mixed_config(py::module_& m);

// The shape of a param as the kernel sees it: its element count, or for a kernel with
// factored state and a param of >= 2 dimensions its batch of matrices (the last two
// dimensions), which must then be C-contiguous for rows and columns to be what they say.
template <class Kernel>
tensor_shape shape_for(const header& p, const std::string& name) {
    if (!dispatch::is_factored<Kernel>::value || p.ndim < 2) return tensor_shape(p.size);
    if (!c_contiguous(p))
        throw py::value_error(name +
                              ": expected a C-contiguous array (the row and column statistics "
                              "follow its last two dimensions)");
    std::int64_t batches = 1;
    for (int d = 0; d < p.ndim - 2; ++d) batches *= p.shape[d];
    return {batches, p.shape[p.ndim - 2], p.shape[p.ndim - 1]};
}

// The shape of state k of a param of this header (torch's), or false if it keeps none.
template <class Kernel>
bool state_dims(std::size_t k, const header& p, std::vector<py::ssize_t>& dims) {
    const state_shape kind = dispatch::shape_of_state<Kernel>(k);
    dims.assign(p.shape, p.shape + p.ndim);
    if (kind == state_shape::elementwise) return true;
    if (kind == state_shape::unfactored) return p.ndim < 2;
    if (p.ndim < 2) return false;
    if (kind == state_shape::per_row)
        dims[static_cast<std::size_t>(p.ndim - 1)] = 1;
    else
        dims[static_cast<std::size_t>(p.ndim - 2)] = 1;
    return true;
}

// "(3, 1)"
inline std::string dims_text(const std::vector<py::ssize_t>& dims) {
    std::string out = "(";
    for (std::size_t d = 0; d < dims.size(); ++d)
        out += (d > 0 ? ", " : "") + std::to_string(dims[d]);
    return out + (dims.size() == 1 ? ",)" : ")");
}

// Raise ValueError naming `name` unless state array `a` (for param `p`, named `param_name`)
// has the shape state k keeps: the param's and its layout (elementwise), or torch's factored
// shape, C-contiguous.
template <class Kernel>
void require_state_shape(std::size_t k,
                         const header& a,
                         const header& p,
                         const std::string& name,
                         const std::string& param_name) {
    std::vector<py::ssize_t> dims;
    state_dims<Kernel>(k, p, dims);
    if (a.ndim != static_cast<int>(dims.size()) ||
        !std::equal(a.shape, a.shape + a.ndim, dims.begin()))
        throw py::value_error(name + ": expected shape " + dims_text(dims) + " for " + param_name +
                              ", got " + dims_text({a.shape, a.shape + a.ndim}));
    if (dispatch::shape_of_state<Kernel>(k) == state_shape::elementwise ||
        dispatch::shape_of_state<Kernel>(k) == state_shape::unfactored) {
        if (!(c_contiguous(a) && c_contiguous(p))) require_same_layout(a, p, name, param_name);
    } else if (!c_contiguous(a)) {
        throw py::value_error(name + ": expected a C-contiguous array");
    }
}

template <class Kernel>
std::int64_t optimizer_step(const std::vector<std::string>& state_args,
                            py::handle params,
                            py::handle grads,
                            py::handle states,
                            py::handle group,
                            std::int64_t step,
                            bool fresh,
                            bool check_only,
                            bool skip_nonfinite,
                            const mixed_config* mixed) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    constexpr std::size_t n_scalar = dispatch::scalar_state_count<Kernel>();
    const auto options = parse_options<Kernel>(group);
    if (Kernel::counts_steps) require_positive_step(step);
    if (!(PyList_Check(states.ptr()) || PyTuple_Check(states.ptr())) ||
        PySequence_Size(states.ptr()) != static_cast<Py_ssize_t>(n_state + n_scalar))
        throw py::type_error("states: expected a list of " + std::to_string(n_state + n_scalar) +
                             " lists of arrays (None for state the options do not use)");
    PyObject** state_lists = PySequence_Fast_ITEMS(states.ptr());
    const bool own_masters = mixed == nullptr || mixed->master_weights;
    const int state_type = mixed != nullptr ? py::detail::npy_api::NPY_FLOAT_ : -1;
    const bool float32_grads = float32_grads_of(mixed, grads);
    const int lowp_type = mixed != nullptr ? mixed->type_num : -1;
    std::vector<role> roles;
    roles.reserve(n_state + 3);
    roles.push_back({"params", params, true, own_masters ? -1 : lowp_type});
    roles.push_back(
        {"grads", grads, false,
         mixed == nullptr ? -1 : (float32_grads ? py::detail::npy_api::NPY_FLOAT_ : lowp_type)});
    for (std::size_t k = 0; k < n_state; ++k) {
        py::handle list = Kernel::uses_state(options, k) ? state_lists[k] : Py_None;
        if (Kernel::uses_state(options, k) && list.is_none())
            throw py::value_error(state_args[k] + ": required by these options, got None");
        roles.push_back({state_args[k].c_str(), list, true, state_type});
    }
    for (std::size_t j = n_state; j < n_state + n_scalar; ++j) {
        if (py::handle(state_lists[j]).is_none())
            throw py::value_error(state_args[j] + ": required, got None");
        roles.push_back({state_args[j].c_str(), state_lists[j], true, -1, true});
    }
    const std::size_t low_role = roles.size();
    roles.push_back({"lowp_params",
                     mixed != nullptr && own_masters ? mixed->lowp_params : py::none(), true,
                     lowp_type});
    const step_arrays arrays(roles);
    const auto buffers = [&](auto zero) {
        using T = decltype(zero);
        return arrays.collect<T>([&](std::size_t t) {
            dispatch::buffers_t<Kernel, T> b{};
            b.param = arrays.data<T>(0, t);
            b.grad = arrays.data<const T>(1, t);
            for (std::size_t k = 0; k < n_state; ++k)
                b.*(Kernel::template state<T>[k]) = arrays.data<T>(2 + k, t);
            if constexpr (n_scalar > 0)
                for (std::size_t j = 0; j < n_scalar; ++j)
                    b.*(Kernel::template scalar_state<T>[j]) = arrays.cell(2 + n_state + j, t);
            b.size = arrays.size(t);
            return b;
        });
    };
    const step_context context{step, fresh};
    if (mixed != nullptr) {
        require_float32_masters(arrays);
        if (skip_nonfinite) {
            const std::int64_t bad =
                first_nonfinite_lowp(arrays, *mixed, float32_grads, own_masters ? low_role : 0, 1);
            if (bad >= 0) return bad;
        }
        if (check_only) return -1;
        auto masters = buffers(0.0f);
        if (!own_masters)
            for (auto& b : masters) b.param = nullptr;  // the kernel reads the 16-bit params
        with_lowp_types(*mixed, float32_grads, [&](auto p, auto g) {
            const auto low =
                lowp_tensors<decltype(p), decltype(g)>(arrays, own_masters ? low_role : 0, 1);
            py::gil_scoped_release release;
            update_mixed<Kernel>(masters.data(), low.data(), masters.size(), options, context,
                                 mixed->options);
        });
        return -1;
    }
    if (skip_nonfinite) {
        const std::int64_t bad = arrays.first_nonfinite(1);
        if (bad >= 0) return bad;
    }
    if (check_only) return -1;
    const auto f32 = buffers(0.0f);
    const auto f64 = buffers(0.0);
    py::gil_scoped_release release;
    if (!f32.empty()) update<Kernel, float>(f32.data(), f32.size(), options, context);
    if (!f64.empty()) update<Kernel, double>(f64.data(), f64.size(), options, context);
    return -1;
}

// optimizer_step for kernels with factored state (state arrays not of the param's shape):
// checked through optimizer objects built for the call (shapes, dtypes, layouts, separate
// memory) before anything is written. A state list may hold None for a param whose shape
// keeps no such state (torch's row_vars for a vector).
template <class Kernel>
std::int64_t optimizer_step_shaped(const std::vector<std::string>& state_args,
                                   py::handle params,
                                   py::handle grads,
                                   py::handle states,
                                   py::handle group,
                                   std::int64_t step,
                                   bool fresh,
                                   bool check_only,
                                   bool skip_nonfinite,
                                   const mixed_config* mixed) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    const auto options = parse_options<Kernel>(group);
    if (Kernel::counts_steps) require_positive_step(step);
    const auto list_of = [](py::handle seq, const std::string& name) {
        if (!(PyList_Check(seq.ptr()) || PyTuple_Check(seq.ptr())))
            throw py::type_error(name + ": expected a list of numpy arrays, got " + type_name(seq));
        return std::make_pair(PySequence_Fast_ITEMS(seq.ptr()),
                              static_cast<std::size_t>(PySequence_Fast_GET_SIZE(seq.ptr())));
    };
    // With `mixed` the arrays the user sees are the 16-bit params, and `params` their float32
    // masters (None without masters); state is float32.
    const char* seen_name = mixed == nullptr ? "params" : "lowp_params";
    const auto [param_items, n] =
        list_of(mixed == nullptr ? params : py::handle(mixed->lowp_params), seen_name);
    PyObject** master_items = nullptr;
    if (mixed != nullptr && mixed->master_weights) {
        const auto [items, count] = list_of(params, "params");
        if (count != n)
            throw py::value_error("params: expected " + std::to_string(n) +
                                  " float32 masters (one per lowp_params), got " +
                                  std::to_string(count));
        master_items = items;
    }
    const auto [grad_items, n_grads] = list_of(grads, "grads");
    if (n_grads != n)
        throw py::value_error("grads: expected " + std::to_string(n) +
                              " arrays (one per param), got " + std::to_string(n_grads));
    if (!(PyList_Check(states.ptr()) || PyTuple_Check(states.ptr())) ||
        PySequence_Size(states.ptr()) != static_cast<Py_ssize_t>(n_state))
        throw py::type_error("states: expected a list of " + std::to_string(n_state) +
                             " lists of arrays (None where a param keeps no such state)");
    std::array<PyObject**, n_state> state_items{};
    for (std::size_t k = 0; k < n_state; ++k) {
        py::handle list = PySequence_Fast_ITEMS(states.ptr())[k];
        if (list.is_none() || !Kernel::uses_state(options, k)) continue;
        const auto [items, count] = list_of(list, state_args[k]);
        if (count != n)
            throw py::value_error(state_args[k] + ": expected " + std::to_string(n) +
                                  " arrays (one per param), got " + std::to_string(count));
        state_items[k] = items;
    }
    optimizer<Kernel, float> f32(options);
    optimizer<Kernel, double> f64(options);
    std::vector<std::size_t> f32_index, f64_index;  // each core's tensors: the call's index
    std::vector<const float*> f32_grads;
    std::vector<const double*> f64_grads;
    const auto role_name = [&](std::size_t t, int role) {
        if (role == role_param) return where(seen_name, t);
        if (role == role_master) return where("params", t);
        if (role == role_grad) return where("grads", t);
        return where(state_args[static_cast<std::size_t>(role)].c_str(), t);
    };
    constexpr int float32 = py::detail::npy_api::NPY_FLOAT_;
    const bool float32_grads = mixed == nullptr || float32_grads_of(mixed, grads);
    struct lowp_entry {
        void* param;
        tensor_shape shape;
        std::array<float*, n_state> state;
        float* master;
        const void* grad;
    };
    std::vector<lowp_entry> lowp;
    const auto overlap = [&](const overlap_error& e, const std::vector<std::size_t>& index) {
        return py::value_error(role_name(index[e.tensor_a], e.role_a) + " and " +
                               role_name(index[e.tensor_b], e.role_b) +
                               ": expected separate memory, but the arrays overlap");
    };
    std::vector<std::pair<std::uintptr_t, std::uintptr_t>> written;  // across the two cores
    for (std::size_t t = 0; t < n; ++t) {
        const std::string name = where(seen_name, t);
        const header p = checked_array(param_items[t], seen_name, t, true);
        const bool is_double = p.type_num == py::detail::npy_api::NPY_DOUBLE_;
        if (mixed == nullptr && ((!is_double && p.type_num != float32) || !p.native_order))
            throw py::type_error(name +
                                 ": expected a float32 or float64 array in native byte order, "
                                 "got " +
                                 dtype_name(param_items[t]));  // (MixedPrecision checked 16-bit)
        const tensor_shape shape = shape_for<Kernel>(p, name);
        float* master = master_items == nullptr
                            ? nullptr
                            : reinterpret_cast<float*>(
                                  checked_master(master_items[t], t, p, param_items[t], name).data);
        // the element types the arrays must have: the param's, or with 16-bit params float32
        // state and the gradients' format
        const int state_type = mixed == nullptr ? p.type_num : float32;
        const int grad_type = float32_grads ? state_type : p.type_num;
        const header g = checked_array(grad_items[t], "grads", t, false);
        if (g.type_num != grad_type || !g.native_order)
            throw py::type_error(
                where("grads", t) + ": expected dtype " +
                (grad_type == p.type_num ? dtype_name(param_items[t]) : std::string("float32")) +
                " to match " + name + ", got " + dtype_name(grad_items[t]));
        if (g.ndim != p.ndim || !std::equal(g.shape, g.shape + g.ndim, p.shape))
            throw py::value_error(where("grads", t) + ": expected shape " +
                                  shape_of(param_items[t]) + " to match " + name + ", got " +
                                  shape_of(grad_items[t]));
        if (!(c_contiguous(g) && c_contiguous(p)))
            require_same_layout(g, p, where("grads", t), name);
        std::array<char*, n_state> data{};
        std::vector<py::ssize_t> dims;
        for (std::size_t k = 0; k < n_state; ++k) {
            const std::string state_name = where(state_args[k].c_str(), t);
            const bool kept = state_dims<Kernel>(k, p, dims);
            PyObject* a = state_items[k] == nullptr ? Py_None : state_items[k][t];
            if (!kept || !Kernel::uses_state(options, k)) {
                if (a != Py_None)
                    throw py::value_error(state_name + ": expected None (" + name +
                                          " keeps no such state)");
                continue;
            }
            if (a == Py_None) throw py::value_error(state_name + ": required, got None");
            const header h = checked_array(a, state_name, true);
            if (h.type_num != state_type || !h.native_order)
                throw py::type_error(
                    state_name + ": expected dtype " +
                    (mixed == nullptr ? dtype_name(param_items[t]) : std::string("float32")) +
                    " to match " + name + ", got " + dtype_name(a));
            require_state_shape<Kernel>(k, h, p, state_name, name);
            data[k] = h.data;
        }
        const auto add = [&](auto& core, auto zero, auto& core_grads, auto& index) {
            using T = decltype(zero);
            typename std::decay_t<decltype(core)>::state_arrays arrays{};
            for (std::size_t k = 0; k < n_state; ++k) arrays[k] = reinterpret_cast<T*>(data[k]);
            index.push_back(t);
            try {
                core.add(reinterpret_cast<T*>(p.data), shape, arrays, nullptr, fresh,
                         std::max<std::int64_t>(step - 1, 0));
            } catch (const overlap_error& e) {
                throw overlap(e, index);
            }
            core_grads.push_back(reinterpret_cast<const T*>(g.data));
        };
        if (mixed != nullptr) {
            lowp_entry entry{p.data, shape, {}, master, g.data};
            for (std::size_t k = 0; k < n_state; ++k)
                entry.state[k] = reinterpret_cast<float*>(data[k]);
            lowp.push_back(entry);
            continue;
        }
        if (is_double)
            add(f64, 0.0, f64_grads, f64_index);
        else
            add(f32, 0.0f, f32_grads, f32_index);
        const auto span = [](const header& h, std::size_t item) {
            const auto begin = reinterpret_cast<std::uintptr_t>(h.data);
            return std::make_pair(begin, begin + static_cast<std::uintptr_t>(h.size) * item);
        };
        if (p.size > 0) written.push_back(span(p, is_double ? 8 : 4));
    }
    if (mixed != nullptr) {
        std::int64_t bad = -1;
        with_lowp_types(*mixed, float32_grads, [&](auto storage, auto grad) {
            using P = decltype(storage);
            using G = decltype(grad);
            optimizer<Kernel, float, P> core(options);
            std::vector<const G*> typed_grads;
            std::vector<std::size_t> index;
            try {
                for (const lowp_entry& e : lowp) {
                    index.push_back(index.size());
                    core.add(static_cast<P*>(e.param), e.shape, e.state, e.master, fresh,
                             std::max<std::int64_t>(step - 1, 0));
                    typed_grads.push_back(static_cast<const G*>(e.grad));
                }
                core.check_grads(typed_grads.data(), typed_grads.size());
            } catch (const overlap_error& e) {
                throw overlap(e, index);
            }
            py::gil_scoped_release release;
            if (skip_nonfinite) bad = core.first_nonfinite(typed_grads.data());
            if (bad >= 0 || check_only) return;
            mixed_options m = mixed->options;
            m.stream_given = true;
            core.step_checked(typed_grads.data(), typed_grads.size(), m);
        });
        return bad;
    }
    // A float32 and a float64 param sharing memory (each core checks its own arrays).
    std::sort(written.begin(), written.end());
    for (std::size_t i = 1; i < written.size(); ++i)
        if (written[i].first < written[i - 1].second)
            throw py::value_error("params: expected separate memory, but two params overlap");
    try {
        f32.check_grads(f32_grads.data(), f32_grads.size());
    } catch (const overlap_error& e) {
        throw overlap(e, f32_index);
    }
    try {
        f64.check_grads(f64_grads.data(), f64_grads.size());
    } catch (const overlap_error& e) {
        throw overlap(e, f64_index);
    }
    if (skip_nonfinite) {
        py::gil_scoped_release release;
        const std::int64_t in_f32 = f32.first_nonfinite(f32_grads.data());
        const std::int64_t in_f64 = f64.first_nonfinite(f64_grads.data());
        std::int64_t bad = -1;
        if (in_f32 >= 0)
            bad = static_cast<std::int64_t>(f32_index[static_cast<std::size_t>(in_f32)]);
        if (in_f64 >= 0) {
            const auto at = static_cast<std::int64_t>(f64_index[static_cast<std::size_t>(in_f64)]);
            if (bad < 0 || at < bad) bad = at;
        }
        if (bad >= 0) return bad;
    }
    if (check_only) return -1;
    py::gil_scoped_release release;
    f32.step_checked(f32_grads.data(), f32_grads.size());
    f64.step_checked(f64_grads.data(), f64_grads.size());
    return -1;
}

// One step of params whose used states are all 8-bit (the path of optikern.torch's 8-bit
// classes and of functional.Quantized state): codes, absmax and qmaps hold per state one list
// with an array per tensor (None for state the options do not use). Params are float32, or
// with `mixed` float16/bfloat16 (`mixed->lowp_params`) with float32 masters in `params` (None
// without masters). Checked through an optimizer object built for the call: shapes, layouts,
// dtypes and separate memory, before anything is written.
template <class Kernel>
void optimizer_step_8bit(const std::vector<std::string>& state_args,
                         py::handle params,
                         py::handle grads,
                         py::handle codes,
                         py::handle absmax,
                         py::handle qmaps,
                         py::handle group,
                         std::int64_t step,
                         bool fresh,
                         bool check_only,
                         const mixed_config* mixed,
                         py::handle scalars) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    constexpr std::size_t n_scalar = dispatch::scalar_state_count<Kernel>();
    const auto options = parse_options<Kernel>(group);
    if (Kernel::counts_steps) require_positive_step(step);
    const auto list_of = [](py::handle seq, const std::string& name, std::size_t n) {
        if (!(PyList_Check(seq.ptr()) || PyTuple_Check(seq.ptr())) ||
            (n != SIZE_MAX && static_cast<std::size_t>(PySequence_Fast_GET_SIZE(seq.ptr())) != n))
            throw py::type_error(
                name + ": expected a list" +
                (n == SIZE_MAX ? std::string() : " of " + std::to_string(n) + " entries"));
        return PySequence_Fast_ITEMS(seq.ptr());
    };
    const bool masters = mixed == nullptr || mixed->master_weights;
    // The arrays the user sees: the params, or with `mixed` the 16-bit params.
    const char* seen_name = mixed == nullptr ? "params" : "lowp_params";
    const py::handle seen = mixed == nullptr ? params : py::handle(mixed->lowp_params);
    const std::size_t n = static_cast<std::size_t>(py::len(seen));
    PyObject** seen_items = list_of(seen, seen_name, SIZE_MAX);
    PyObject** master_items = mixed != nullptr && masters ? list_of(params, "params", n) : nullptr;
    PyObject** grad_items = list_of(grads, "grads", n);
    std::array<PyObject**, n_state> code_items{}, absmax_items{}, qmap_items{};
    for (std::size_t k = 0; k < n_state; ++k) {
        if (!Kernel::uses_state(options, k)) continue;
        const auto slot = [&](py::handle all, const char* what) {
            return list_of(list_of(all, what, n_state)[k], state_args[k] + " " + what, n);
        };
        code_items[k] = slot(codes, "codes");
        absmax_items[k] = slot(absmax, "absmax");
        qmap_items[k] = slot(qmaps, "qmaps");
    }
    // The per-tensor 0-d state (NAdam's mu_product) stays in float: one list per name.
    std::array<PyObject**, n_scalar> scalar_items{};
    for (std::size_t j = 0; j < n_scalar; ++j)
        scalar_items[j] =
            list_of(list_of(scalars, "scalars", n_scalar)[j], state_args[n_state + j], n);
    const auto require = [](const header& h, int type_num, const std::string& name, PyObject* obj,
                            const char* expected) {
        if (h.type_num != type_num || !h.native_order)
            throw py::type_error(name + ": expected dtype " + expected + ", got " +
                                 dtype_name(obj));
    };
    const auto like_param = [](const header& h, const header& p, const std::string& name,
                               PyObject* obj, PyObject* param, const std::string& param_name) {
        if (h.ndim != p.ndim || !std::equal(h.shape, h.shape + h.ndim, p.shape))
            throw py::value_error(name + ": expected shape " + shape_of(param) + " to match " +
                                  param_name + ", got " + shape_of(obj));
        require_same_layout(h, p, name, param_name);
    };
    constexpr int float32 = py::detail::npy_api::NPY_FLOAT_;
    const int grad_type =
        mixed == nullptr || float32_grads_of(mixed, grads) ? float32 : mixed->type_num;
    const char* grad_dtype =
        grad_type == float32 ? "float32" : (mixed->bfloat16 ? "bfloat16" : "float16");
    std::vector<std::unique_ptr<code_map>> owned;
    std::vector<header> seen_arrays(n), master_arrays(n);
    std::vector<const void*> grad_data(n);
    std::vector<quantized_states<Kernel>> quantized(n);
    std::vector<std::array<scalar_cell, n_scalar>> cells(n);
    for (std::size_t t = 0; t < n; ++t) {
        const header p = checked_array(seen_items[t], seen_name, t, true);
        if (mixed == nullptr) require(p, float32, where("params", t), seen_items[t], "float32");
        seen_arrays[t] = p;  // 16-bit params: their format was checked by MixedPrecision
        if (master_items != nullptr)
            master_arrays[t] =
                checked_master(master_items[t], t, p, seen_items[t], where(seen_name, t));
        const header g = checked_array(grad_items[t], "grads", t, false);
        require(g, grad_type, where("grads", t), grad_items[t], grad_dtype);
        like_param(g, p, where("grads", t), grad_items[t], seen_items[t], where(seen_name, t));
        grad_data[t] = g.data;
        for (std::size_t k = 0; k < n_state; ++k) {
            if (code_items[k] == nullptr) continue;
            const std::string name = state_args[k] + "[" + std::to_string(t) + "]";
            const header c = checked_array(code_items[k][t], name, true);
            require(c, py::detail::npy_api::NPY_UBYTE_, name, code_items[k][t], "uint8");
            like_param(c, p, name, code_items[k][t], seen_items[t], where(seen_name, t));
            const std::string absmax_name = state_args[k] + " absmax[" + std::to_string(t) + "]";
            const header a = checked_array(absmax_items[k][t], absmax_name, true);
            require(a, float32, absmax_name, absmax_items[k][t], "float32");
            if (a.ndim != 1 || a.size != quantization_blocks(p.size))
                throw py::value_error(
                    absmax_name + ": expected " + std::to_string(quantization_blocks(p.size)) +
                    " scales (one per block of 256), got shape " + shape_of(absmax_items[k][t]));
            const code_map& map = code_map_of(
                qmap_items[k][t], state_args[k] + " qmaps[" + std::to_string(t) + "]", owned);
            quantized[t][k] = {reinterpret_cast<std::uint8_t*>(c.data),
                               reinterpret_cast<float*>(a.data), &map};
        }
        for (std::size_t j = 0; j < n_scalar; ++j) {
            PyObject* obj = scalar_items[j][t];
            const std::string name = state_args[n_state + j] + "[" + std::to_string(t) + "]";
            const header c = checked_array(obj, name, true);
            if ((c.type_num != float32 && c.type_num != py::detail::npy_api::NPY_DOUBLE_) ||
                !c.native_order || c.ndim != 0)
                throw py::type_error(name + ": expected a 0-d float32 or float64 array, got " +
                                     dtype_name(obj) + " of shape " + shape_of(obj));
            cells[t][j] = {c.data, c.type_num == py::detail::npy_api::NPY_DOUBLE_};
        }
    }
    const auto role_name = [&](std::size_t t, int role) {
        if (role == role_param) return where(seen_name, t);
        if (role == role_master) return where("params", t);
        if (role == role_grad) return where("grads", t);
        return state_args[static_cast<std::size_t>(role)] + "[" + std::to_string(t) + "]";
    };
    const auto run = [&](auto storage, auto grad) {
        using P = decltype(storage);
        using G = decltype(grad);
        optimizer<Kernel, float, P> opt(options);
        std::vector<const G*> typed_grads(n);
        try {
            for (std::size_t t = 0; t < n; ++t) {
                float* master = master_items != nullptr
                                    ? reinterpret_cast<float*>(master_arrays[t].data)
                                    : nullptr;
                opt.add(reinterpret_cast<P*>(seen_arrays[t].data), seen_arrays[t].size, {}, master,
                        fresh, std::max<std::int64_t>(step - 1, 0), cells[t], quantized[t]);
                typed_grads[t] = static_cast<const G*>(grad_data[t]);
            }
            opt.check_grads(typed_grads.data(), n);
        } catch (const overlap_error& e) {
            throw py::value_error(role_name(e.tensor_a, e.role_a) + " and " +
                                  role_name(e.tensor_b, e.role_b) +
                                  ": expected separate memory, but the arrays overlap");
        }
        if (check_only) return;
        mixed_options m;
        if (mixed != nullptr) {
            m = mixed->options;
            m.stream_given = true;
        }
        py::gil_scoped_release release;
        opt.step_checked(typed_grads.data(), n, m);
    };
    if (mixed == nullptr)
        run(float{}, float{});
    else
        with_lowp_types(*mixed, grad_type == float32, run);
}

// A row update of one (rows x ...) table from a sparse gradient: `indices` (int64, strictly
// increasing, below the row count) name the rows, `values` (len(indices) x ...) their
// gradients; `states` holds the full state tables. Only the named rows change.
template <class Kernel>
void optimizer_rows_step(const std::vector<std::string>& state_args,
                         py::handle param,
                         py::handle indices,
                         py::handle values,
                         py::handle states,
                         py::handle group,
                         std::int64_t step) {
    constexpr std::size_t n_state = Kernel::state_names.size();
    const auto options = parse_options<Kernel>(group);
    if (Kernel::counts_steps) require_positive_step(step);
    const header p = checked_array(param.ptr(), "param", true);
    const bool is_double = p.type_num == py::detail::npy_api::NPY_DOUBLE_;
    if ((!is_double && p.type_num != py::detail::npy_api::NPY_FLOAT_) || !p.native_order)
        throw py::type_error(
            "param: expected a float32 or float64 array in native byte order, got " +
            dtype_name(param));
    if (p.ndim < 1 || !c_contiguous(p))
        throw py::value_error("param: expected a C-contiguous table of at least 1 dimension");
    const std::int64_t rows = p.shape[0];
    const std::int64_t cols = rows > 0 ? p.size / rows : 0;
    const header v = checked_array(values.ptr(), "values", false);
    const header ix = checked_array(indices.ptr(), "indices", false);
    if (ix.ndim != 1 || !c_contiguous(ix) ||
        !(ix.type_num == py::detail::npy_api::NPY_LONG_ ||
          ix.type_num == py::detail::npy_api::NPY_LONGLONG_) ||
        item_size_of(indices) != 8 || !ix.native_order)
        throw py::type_error("indices: expected a 1-D int64 array, got " + dtype_name(indices) +
                             " of shape " + shape_of(indices));
    const std::int64_t n = ix.size;
    if (v.type_num != p.type_num || !v.native_order)
        throw py::type_error("values: expected dtype " + dtype_name(param) + " like param, got " +
                             dtype_name(values));
    if (!c_contiguous(v) || v.ndim != p.ndim || v.shape[0] != n ||
        !std::equal(v.shape + 1, v.shape + v.ndim, p.shape + 1))
        throw py::value_error(
            "values: expected a C-contiguous array of shape (len(indices),) + param.shape[1:], "
            "got " +
            shape_of(values));
    const auto* rows_of = reinterpret_cast<const std::int64_t*>(ix.data);
    for (std::int64_t i = 0; i < n; ++i)
        if (rows_of[i] < 0 || rows_of[i] >= rows || (i > 0 && rows_of[i] <= rows_of[i - 1]))
            throw py::value_error("indices: expected strictly increasing row numbers in [0, " +
                                  std::to_string(rows) + ") (a coalesced sparse gradient), got " +
                                  std::to_string(rows_of[i]) + " at " + std::to_string(i));
    if (!(PyList_Check(states.ptr()) || PyTuple_Check(states.ptr())) ||
        PySequence_Size(states.ptr()) != static_cast<Py_ssize_t>(n_state))
        throw py::type_error("states: expected a list of " + std::to_string(n_state) +
                             " arrays (None for state the options do not use)");
    std::array<char*, n_state> state_data{};
    std::vector<std::pair<header, std::string>> written{{p, "param"}};
    for (std::size_t k = 0; k < n_state; ++k) {
        if (!Kernel::uses_state(options, k)) continue;
        PyObject* s = PySequence_Fast_ITEMS(states.ptr())[k];
        if (s == Py_None)
            throw py::value_error(state_args[k] + ": required by these options, got None");
        const header h = checked_array(s, state_args[k], true);
        if (h.type_num != p.type_num || !h.native_order)
            throw py::type_error(state_args[k] + ": expected dtype " + dtype_name(param) +
                                 " like param, got " + dtype_name(s));
        if (!c_contiguous(h) || h.ndim != p.ndim || !std::equal(h.shape, h.shape + h.ndim, p.shape))
            throw py::value_error(state_args[k] + ": expected a C-contiguous array of shape " +
                                  shape_of(param) + " like param, got " + shape_of(s));
        state_data[k] = h.data;
        written.emplace_back(h, state_args[k]);
    }
    // No written table may share memory with any other array of the call.
    std::vector<std::pair<header, std::string>> all = written;
    all.emplace_back(v, "values");
    all.emplace_back(ix, "indices");
    const auto span_of = [](const header& h, std::size_t item) {
        const auto begin = reinterpret_cast<std::uintptr_t>(h.data);
        return std::make_pair(begin, begin + static_cast<std::uintptr_t>(h.size) * item);
    };
    for (std::size_t a = 0; a < written.size(); ++a)
        for (std::size_t b = 0; b < all.size(); ++b) {
            if (a == b || written[a].first.size == 0 || all[b].first.size == 0) continue;
            const auto [a0, a1] = span_of(written[a].first, item_size(p.type_num));
            const auto [b0, b1] =
                span_of(all[b].first, all[b].second == "indices" ? 8 : item_size(p.type_num));
            if (a0 < b1 && b0 < a1)
                throw py::value_error(written[a].second + " and " + all[b].second +
                                      ": expected separate memory, but the arrays overlap");
        }
    const auto run = [&](auto zero) {
        using T = decltype(zero);
        dispatch::buffers_t<Kernel, T> table{};
        table.param = reinterpret_cast<T*>(p.data);
        for (std::size_t k = 0; k < n_state; ++k)
            table.*(Kernel::template state<T>[k]) = reinterpret_cast<T*>(state_data[k]);
        table.size = p.size;
        py::gil_scoped_release release;
        update_rows<Kernel, T>(table, cols, rows_of, static_cast<std::size_t>(n),
                               reinterpret_cast<const T*>(v.data), options, {step, false});
    };
    if (is_double)
        run(0.0);
    else
        run(0.0f);
}

// _core.<name>_step(params, grads, states, options, step, fresh=False, check_only=False,
// skip_nonfinite=False, mixed=None) and _core.<name>_check_options(options).
template <class Kernel>
void register_optimizer(
    py::module_& m,
    const char* name,
    std::array<const char*, Kernel::state_names.size() + dispatch::scalar_state_count<Kernel>()>
        state_args) {
    const std::vector<std::string> args(state_args.begin(), state_args.end());
    m.def((std::string(name) + "_step").c_str(),
          // `mixed` is taken as a handle: letting pybind11 turn None into a null pointer costs a
          // failed attribute lookup (~1 us) on every call.
          [args](py::handle params, py::handle grads, py::handle states, py::handle options,
                 py::handle step, bool fresh, bool check_only, bool skip_nonfinite,
                 py::handle mixed) {
              const mixed_config* config =
                  mixed.is_none() ? nullptr : mixed.cast<const mixed_config*>();
              if constexpr (dispatch::is_factored<Kernel>::value)
                  return optimizer_step_shaped<Kernel>(args, params, grads, states, options,
                                                       step_number(step), fresh, check_only,
                                                       skip_nonfinite, config);
              else
                  return optimizer_step<Kernel>(args, params, grads, states, options,
                                                step_number(step), fresh, check_only,
                                                skip_nonfinite, config);
          },
          py::arg("params"), py::arg("grads"), py::arg("states"), py::arg("options"),
          py::arg("step"), py::arg("fresh") = false, py::arg("check_only") = false,
          py::arg("skip_nonfinite") = false, py::arg("mixed") = py::none(),
          "One step over every tensor in place. states: one list of arrays per state name (None "
          "where the options use none); options: a dict with torch's keys (a param group); step: "
          "1-based; fresh: the state was just created. Returns -1, or with skip_nonfinite the "
          "index of the first gradient holding NaN or infinity (nothing written).");
    if constexpr (!dispatch::has_scalar_state<Kernel>::value &&
                  !dispatch::is_factored<Kernel>::value)
        m.def((std::string(name) + "_rows_step").c_str(),
              [args](py::handle param, py::handle indices, py::handle values, py::handle states,
                     py::handle options, py::handle step) {
                  optimizer_rows_step<Kernel>(args, param, indices, values, states, options,
                                              step_number(step));
              },
              py::arg("param"), py::arg("indices"), py::arg("values"), py::arg("states"),
              py::arg("options"), py::arg("step"),
              "The update of the rows of the table `param` that a sparse gradient touches: rows "
              "`indices` (int64, strictly increasing) with gradients `values`; states: the full "
              "state tables (one per state name, None where unused).");
    if constexpr (quantizable<Kernel>::value)
        m.def((std::string(name) + "_step_8bit").c_str(),
              [args](py::handle params, py::handle grads, py::handle codes, py::handle absmax,
                     py::handle qmaps, py::handle options, py::handle step, bool fresh,
                     bool check_only, py::handle mixed, py::handle scalars) {
                  optimizer_step_8bit<Kernel>(
                      args, params, grads, codes, absmax, qmaps, options, step_number(step), fresh,
                      check_only, mixed.is_none() ? nullptr : mixed.cast<const mixed_config*>(),
                      scalars);
              },
              py::arg("params"), py::arg("grads"), py::arg("codes"), py::arg("absmax"),
              py::arg("qmaps"), py::arg("options"), py::arg("step"), py::arg("fresh") = false,
              py::arg("check_only") = false, py::arg("mixed") = py::none(),
              py::arg("scalars") = py::none(),
              "One step with 8-bit state: codes, absmax, qmaps: per state array name one list "
              "of arrays (None where the options use none); scalars: per 0-d state name (NAdam's "
              "mu_product) one list of 0-d float arrays. Params float32, or with `mixed` "
              "float16/bfloat16 (params: their float32 masters, or None).");
    m.def((std::string(name) + "_check_options").c_str(),
          [](py::handle options) { parse_options<Kernel>(options); }, py::arg("options"),
          "Raise TypeError/ValueError (torch's messages) unless the options are valid.");
    m.def((std::string(name) + "_state_fill").c_str(),
          [](py::handle options) {
              const auto o = parse_options<Kernel>(options);
              py::dict fill;
              for (std::size_t k = 0; k < Kernel::state_names.size(); ++k)
                  if (Kernel::uses_state(o, k))
                      fill[Kernel::state_names[k]] = Kernel::initial_state(o, k);
              if constexpr (dispatch::has_scalar_state<Kernel>::value)
                  for (std::size_t j = 0; j < Kernel::scalar_state_names.size(); ++j)
                      fill[Kernel::scalar_state_names[j]] = Kernel::initial_scalar_state(o, j);
              return fill;
          },
          py::arg("options"), "The state arrays these options use, with their initial values.");
    m.def((std::string(name) + "_state_shape").c_str(),
          [](std::size_t k, py::tuple dims_of_param) -> py::object {
              if (k >= Kernel::state_names.size()) throw py::value_error("k: no such state");
              std::vector<py::ssize_t> shape;
              for (py::handle d : dims_of_param) shape.push_back(d.cast<py::ssize_t>());
              const header p{
                  nullptr, static_cast<int>(shape.size()), shape.data(), nullptr, 0, 0, true, 0};
              std::vector<py::ssize_t> dims;
              if (!state_dims<Kernel>(k, p, dims)) return py::none();
              py::tuple out(dims.size());
              for (std::size_t d = 0; d < dims.size(); ++d) out[d] = py::int_(dims[d]);
              return out;
          },
          py::arg("k"), py::arg("shape"),
          "The shape of state array k (in state_names order) for a param of `shape`, or None "
          "if such a param keeps none.");
    // Every state entry a step takes, in order: the arrays, then the 0-d scalars.
    py::list names;
    py::list scalar_names;
    for (const char* s : Kernel::state_names) names.append(s);
    if constexpr (dispatch::has_scalar_state<Kernel>::value)
        for (const char* s : Kernel::scalar_state_names) {
            names.append(s);
            scalar_names.append(s);
        }
    m.attr((std::string(name) + "_state_names").c_str()) = py::tuple(names);
    m.attr((std::string(name) + "_scalar_state_names").c_str()) = py::tuple(scalar_names);
    m.attr((std::string(name) + "_counts_steps").c_str()) = Kernel::counts_steps;
    // Which states may be negative, for the optimizers whose state may be 8-bit; else None.
    py::object state_signed = py::none();
    if constexpr (quantizable<Kernel>::value) {
        py::list signs;
        for (bool s : Kernel::state_signed) signs.append(s);
        state_signed = py::tuple(signs);
    }
    m.attr((std::string(name) + "_state_signed").c_str()) = state_signed;
    // Whether each step scales a tensor by its own norms (LAMB): then a tensor must not be cut.
    m.attr((std::string(name) + "_per_tensor_norms").c_str()) =
        dispatch::norm_count<Kernel>::value > 0;
    py::list keys;
    for (std::size_t i = 0; i < option_slots<Kernel>().count; ++i)
        keys.append(option_slots<Kernel>().keys[i]);
    m.attr((std::string(name) + "_option_keys").c_str()) = py::tuple(keys);
}

}  // namespace optikern::python
