// Optimizer objects: the C++ embedding API. An optimizer keeps views of its tensors' params and
// state (the memory stays the caller's), checked once when registered, its options and its step
// count; a step checks only the gradients, then runs one fused pass over every tensor.
//
//   optikern::optimizer<optikern::kernels::adam, float> adam({/*lr*/ 1e-3});
//   adam.add(param, n, {exp_avg, exp_avg_sq, nullptr});    // state in Kernel::state_names order
//   adam.step(grads, 1);                                     // grads[t]: tensor t's gradient
//
// With a 16-bit Storage type (float16, bfloat16) the params the user sees are 16-bit, the
// arithmetic and the state float32, and `master` the float32 master copy of each param.
// Optimizers of running averages may keep any state in 8 bits (quantize.hpp), with float32 or
// 16-bit params: pass it in `quantized` instead of `state`.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "optikern/dispatch/mixed.hpp"
#include "optikern/dispatch/quantized.hpp"
#include "optikern/dispatch/table.hpp"
#include "optikern/lowp.hpp"
#include "optikern/options.hpp"

namespace optikern {

// Which array of a tensor: its param, its float32 master, its gradient, or state array k >= 0.
enum : int { role_param = -1, role_master = -2, role_grad = -3 };

// Two registered arrays share memory; names them by (tensor, role).
struct overlap_error : std::invalid_argument {
    std::size_t tensor_a, tensor_b;
    int role_a, role_b;
    overlap_error(std::size_t ta, int ra, std::size_t tb, int rb)
        : std::invalid_argument("tensor " + std::to_string(ta) + " and tensor " +
                                std::to_string(tb) + ": arrays share memory"),
          tensor_a(ta),
          tensor_b(tb),
          role_a(ra),
          role_b(rb) {}
};

// An option outside its range (torch's message: "Invalid learning rate: -1").
struct option_error : std::invalid_argument {
    using std::invalid_argument::invalid_argument;
};

// The shortest decimal that reads back as v ("0.1", "-1", "nan"), as messages show values.
inline std::string format_number(double v) {
    char text[32];
    for (int digits = 1; digits <= 17; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, v);
        if (std::strtod(text, nullptr) == v) break;
    }
    return text;
}

template <class Options, std::size_t N>
void check_options(const std::array<option_field<Options>, N>& fields,
                   const char* (*invalid_combination)(const Options&),
                   const Options& options) {
    if (const auto* bad = invalid_option(fields, options))
        throw option_error(option_message(*bad, format_number(options.*(bad->real))));
    if (const char* message = invalid_combination(options)) throw option_error(message);
}

// The largest step count a tensor may be registered with: stepping never gets there (2^62
// steps) and step + 1 cannot overflow.
inline constexpr std::int64_t max_steps = std::int64_t{1} << 62;

template <class Kernel, class T, class Storage = T>
class optimizer {
public:
    static constexpr bool mixed = !std::is_same_v<Storage, T>;
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
    static_assert(!mixed || (std::is_same_v<T, float> && (std::is_same_v<Storage, float16> ||
                                                          std::is_same_v<Storage, bfloat16>)),
                  "16-bit params train with float32 arithmetic and state");
    using options_type = typename Kernel::options;
    using buffers_type = dispatch::buffers_t<Kernel, T>;
    static constexpr std::size_t state_count = Kernel::state_names.size();
    using state_arrays = std::array<T*, state_count>;
    // The per-tensor 0-d state (Kernel::scalar_state_names), roles state_count + j.
    static constexpr std::size_t scalar_count = dispatch::scalar_state_count<Kernel>();
    using scalar_cells = std::array<scalar_cell, scalar_count>;

    explicit optimizer(const options_type& options = {}) { set_options(options); }

    // Registers one tensor of `shape` (its element count, or for a kernel with factored state
    // its matrix shape), updated in place. `state` holds its state arrays
    // in Kernel::state_names order (nullptr where the options use none, or where `quantized`
    // holds the state in 8 bits: codes of `size` bytes, quantization_blocks(size) scales and
    // the code map; float32 arithmetic only); `master` (16-bit
    // Storage only) its float32 master copy, or nullptr to update the 16-bit values directly.
    // `fresh`: the state was just created (SGD's momentum buffer then starts as the gradient);
    // `steps`: the steps the state has seen (tensors resumed at different counts are stepped
    // in separate passes); `scalars`: its 0-d state, for kernels that keep one. Throws
    // std::invalid_argument and registers nothing if an array the options use is missing or
    // any array shares memory with another registered one.
    void add(Storage* param,
             const tensor_shape& shape,
             const state_arrays& state,
             T* master = nullptr,
             bool fresh = true,
             std::int64_t steps = 0,
             const scalar_cells& scalars = {},
             const quantized_states<Kernel>& quantized = {}) {
        const std::int64_t size = shape.size;
        if (size < 0 || (shape.factored && (shape.batches < 0 || shape.rows < 0 || shape.cols < 0 ||
                                            shape.batches * shape.rows * shape.cols != size)))
            throw std::invalid_argument(
                "size: expected >= 0 (batches x rows x cols when factored)");
        if (steps < 0 || steps > max_steps)
            throw std::invalid_argument("steps: expected a count in [0, 2^62]");
        if (!mixed && master != nullptr)
            throw std::invalid_argument("master: only 16-bit params keep a master copy");
        const std::size_t t = tensors_.size();
        std::vector<span> added;
        const auto claim = [&](const void* data, std::size_t item, int role,
                               std::int64_t elements) {
            if (elements == 0) return;
            if (data == nullptr)
                throw std::invalid_argument("tensor " + std::to_string(t) + ": missing array");
            const auto begin = reinterpret_cast<std::uintptr_t>(data);
            added.push_back({begin, begin + static_cast<std::uintptr_t>(elements) * item, t, role});
        };
        claim(param, sizeof(Storage), role_param, size);
        if (master != nullptr) claim(master, sizeof(T), role_master, size);
        bool any_quantized = false;
        for (std::size_t k = 0; k < state_count; ++k) {
            const quantized_state& q = quantized[k];
            const std::int64_t elements = dispatch::state_elements<Kernel>(k, shape);
            if (elements < 0) {  // a state this tensor's shape does not keep
                if (state[k] != nullptr || q.codes != nullptr)
                    throw std::invalid_argument("tensor " + std::to_string(t) + ": state " +
                                                std::to_string(k) +
                                                " is not kept for a tensor of this shape");
                continue;
            }
            if (q.codes == nullptr) {
                if (Kernel::uses_state(options_, k) || state[k] != nullptr)
                    claim(state[k], sizeof(T), static_cast<int>(k), elements);
                continue;
            }
            if (!quantizable<Kernel>::value || !std::is_same_v<T, float>)
                throw std::invalid_argument(
                    "quantized: 8-bit state needs float32 arithmetic and an optimizer of "
                    "running averages");
            if (state[k] != nullptr || q.absmax == nullptr || q.map == nullptr)
                throw std::invalid_argument("tensor " + std::to_string(t) + ": state " +
                                            std::to_string(k) +
                                            " needs codes, scales and a map, and no float array");
            claim(q.codes, 1, static_cast<int>(k), size);
            if (size > 0) {
                const auto begin = reinterpret_cast<std::uintptr_t>(q.absmax);
                added.push_back(
                    {begin,
                     begin + static_cast<std::uintptr_t>(quantization_blocks(size)) * sizeof(float),
                     t, static_cast<int>(k)});
            }
            any_quantized = true;
        }
        for (std::size_t j = 0; j < scalar_count; ++j) {  // advanced even for an empty tensor
            if (scalars[j].data == nullptr)
                throw std::invalid_argument("tensor " + std::to_string(t) + ": missing array");
            const auto begin = reinterpret_cast<std::uintptr_t>(scalars[j].data);
            added.push_back({begin, begin + (scalars[j].is_double ? sizeof(double) : sizeof(float)),
                             t, static_cast<int>(state_count + j)});
        }
        std::vector<span> merged = written_;
        merged.insert(merged.end(), added.begin(), added.end());
        std::sort(merged.begin(), merged.end());
        for (std::size_t i = 1; i < merged.size(); ++i)
            if (merged[i].begin < merged[i - 1].end)
                throw overlap_error(merged[i - 1].tensor, merged[i - 1].role, merged[i].tensor,
                                    merged[i].role);
        buffers_type b{};
        if constexpr (mixed) {
            b.param = master;
            lowp_params_.push_back(param);
        } else {
            b.param = param;
        }
        for (std::size_t k = 0; k < state_count; ++k) b.*(Kernel::template state<T>[k]) = state[k];
        if constexpr (scalar_count > 0)
            for (std::size_t j = 0; j < scalar_count; ++j)
                b.*(Kernel::template scalar_state<T>[j]) = scalars[j];
        b.size = size;
        if constexpr (dispatch::is_factored<Kernel>::value) {
            b.factored = shape.factored;
            b.batches = shape.batches;
            b.rows = shape.rows;
            b.cols = shape.cols;
        }
        tensors_.push_back(b);
        shapes_.push_back(shape);
        quantized_.push_back(quantized);
        any_quantized_ = any_quantized_ || any_quantized;
        fresh_.push_back(fresh);
        steps_.push_back(steps);
        written_ = std::move(merged);
    }

    std::size_t size() const { return tensors_.size(); }
    const buffers_type& tensor(std::size_t t) const { return tensors_[t]; }
    Storage* param(std::size_t t) const {
        if constexpr (mixed)
            return lowp_params_[t];
        else
            return tensors_[t].param;
    }

    const options_type& options() const { return options_; }
    // Checked with torch's messages (option_error); state the new options need must exist.
    void set_options(const options_type& options) {
        check_options(Kernel::fields, &Kernel::invalid_combination, options);
        for (std::size_t t = 0; t < tensors_.size(); ++t)
            for (std::size_t k = 0; k < state_count; ++k)
                if (dispatch::state_elements<Kernel>(k, shapes_[t]) > 0 &&
                    Kernel::uses_state(options, k) &&
                    tensors_[t].*(Kernel::template state<T>[k]) == nullptr &&
                    quantized_[t][k].codes == nullptr)
                    throw std::invalid_argument(std::string("options: need state '") +
                                                Kernel::state_names[k] +
                                                "', which was not registered");
        options_ = options;
    }

    // Steps tensor t has completed (its state's step count).
    std::int64_t steps(std::size_t t) const { return steps_[t]; }

    // Checks one step's gradients (one per tensor, in registration order): throws
    // std::invalid_argument for a wrong count or a missing array, overlap_error for a gradient
    // sharing memory with anything the step writes. G is T, or for 16-bit Storage also Storage.
    template <class G>
    void check_grads(const G* const* grads, std::size_t count) const {
        static_assert(std::is_same_v<G, T> || (mixed && std::is_same_v<G, Storage>));
        if (count != tensors_.size())
            throw std::invalid_argument("grads: expected " + std::to_string(tensors_.size()) +
                                        " arrays (one per tensor), got " + std::to_string(count));
        for (std::size_t t = 0; t < count; ++t) {
            const std::int64_t n = tensors_[t].size;
            if (n == 0) continue;
            if (grads[t] == nullptr)
                throw std::invalid_argument("grads: tensor " + std::to_string(t) +
                                            " has no gradient");
            const auto begin = reinterpret_cast<std::uintptr_t>(grads[t]);
            const auto end = begin + static_cast<std::uintptr_t>(n) * sizeof(G);
            // The first written span ending after `begin` is the only one that can overlap.
            const auto it =
                std::upper_bound(written_.begin(), written_.end(), begin,
                                 [](std::uintptr_t at, const span& s) { return at < s.end; });
            if (it != written_.end() && it->begin < end)
                throw overlap_error(t, role_grad, it->tensor, it->role);
        }
    }

    // Index of the first tensor whose gradient holds NaN or infinity, or -1 (read only).
    template <class G>
    std::int64_t first_nonfinite(const G* const* grads) const {
        std::vector<std::int64_t> sizes;
        for (const auto& b : tensors_) sizes.push_back(b.size);
        if constexpr (std::is_same_v<G, T>) {
            std::vector<array_buffer<const T>> arrays;
            for (std::size_t t = 0; t < tensors_.size(); ++t)
                arrays.push_back({grads[t], sizes[t]});
            return optikern::first_nonfinite(arrays.data(), arrays.size());
        } else {
            std::vector<lowp_tensor<Storage, G>> lowp;
            for (std::size_t t = 0; t < tensors_.size(); ++t)
                lowp.push_back({lowp_params_[t], grads[t]});
            return optikern::first_nonfinite(lowp.data(), sizes.data(), lowp.size());
        }
    }

    // One step: checks the gradients (see check_grads), then updates every tensor. `mixed`
    // (16-bit Storage) holds the loss scale and the rounding; its stream is the step number
    // unless `stream_given`.
    template <class G>
    void step(const G* const* grads, std::size_t count, const mixed_options& mixed_step = {}) {
        check_grads(grads, count);
        step_checked(grads, count, mixed_step);
    }

    // step() for gradients that already passed check_grads (a caller checking several
    // optimizers before the first writes, as a Python param group does).
    template <class G>
    void step_checked(const G* const* grads,
                      std::size_t count,
                      const mixed_options& mixed_step = {}) {
        if (!mixed && mixed_step.grad_scale != 1.0)
            throw std::invalid_argument("grad_scale: applies to 16-bit params only");
        // One pass per run of tensors sharing a step count and freshness: one in all, usually.
        for (std::size_t first = 0; first < count;) {
            std::size_t last = first + 1;
            while (last < count && steps_[last] == steps_[first] && fresh_[last] == fresh_[first])
                ++last;
            run(grads, first, last, {steps_[first] + 1, fresh_[first]}, mixed_step);
            first = last;
        }
        std::fill(fresh_.begin(), fresh_.end(), false);
        for (auto& s : steps_) ++s;
    }

private:
    struct span {
        std::uintptr_t begin, end;
        std::size_t tensor;
        int role;
        bool operator<(const span& o) const { return begin < o.begin; }
    };

    template <class G>
    void run(const G* const* grads,
             std::size_t first,
             std::size_t last,
             const step_context& context,
             mixed_options m) {
        if constexpr (mixed) {
            std::vector<lowp_tensor<Storage, G>> lowp;
            lowp.reserve(last - first);
            for (std::size_t t = first; t < last; ++t) lowp.push_back({lowp_params_[t], grads[t]});
            if (!m.stream_given) m.stream = static_cast<std::uint64_t>(context.step);
            update_mixed<Kernel>(tensors_.data() + first, lowp.data(), last - first, options_,
                                 context, m, any_quantized_ ? quantized_.data() + first : nullptr);
        } else {
            for (std::size_t t = first; t < last; ++t) tensors_[t].grad = grads[t];
            if constexpr (quantizable<Kernel>::value && std::is_same_v<T, float>) {
                if (any_quantized_) {
                    update_quantized<Kernel>(tensors_.data() + first, quantized_.data() + first,
                                             last - first, options_, context);
                    return;
                }
            }
            update<Kernel, T>(tensors_.data() + first, last - first, options_, context);
        }
    }

    std::vector<buffers_type> tensors_;
    std::vector<tensor_shape> shapes_;
    std::vector<quantized_states<Kernel>> quantized_;
    bool any_quantized_ = false;
    std::vector<Storage*> lowp_params_;  // 16-bit Storage: the params the user sees
    std::vector<span> written_;          // every written array, sorted
    std::vector<bool> fresh_;
    std::vector<std::int64_t> steps_;
    options_type options_;
};

}  // namespace optikern
