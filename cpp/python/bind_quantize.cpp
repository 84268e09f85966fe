// Blockwise 8-bit state for Python: the dynamic code maps, and conversions between float32
// arrays and (codes, absmax) that the optimizer classes use to create and load 8-bit state.
#include <optikern/optikern.hpp>

#include "bind_common.hpp"

namespace optikern::python {

namespace {

py::array_t<float> dynamic_map(bool is_signed) {
    py::array_t<float> out(code_map::size);
    const float* codes = code_map::dynamic(is_signed).codes();
    std::copy(codes, codes + code_map::size, out.mutable_data());
    return out;
}

py::tuple quantize_blockwise_py(py::handle values, py::handle qmap) {
    const header v = checked_array(values.ptr(), "values", false);
    if (v.type_num != py::detail::npy_api::NPY_FLOAT_ || !v.native_order || !c_contiguous(v))
        throw py::type_error("values: expected a C-contiguous float32 array, got " +
                             dtype_name(values));
    std::vector<std::unique_ptr<code_map>> owned;
    const code_map& map = code_map_of(qmap.ptr(), "qmap", owned);
    py::array_t<std::uint8_t> codes(std::vector<py::ssize_t>(v.shape, v.shape + v.ndim));
    py::array_t<float> absmax(quantization_blocks(v.size));
    {
        py::gil_scoped_release release;
        quantize_blockwise(reinterpret_cast<const float*>(v.data), v.size, map,
                           codes.mutable_data(), absmax.mutable_data());
    }
    return py::make_tuple(codes, absmax);
}

py::array_t<float> dequantize_blockwise_py(py::handle codes, py::handle absmax, py::handle qmap) {
    const header c = checked_array(codes.ptr(), "codes", false);
    if (c.type_num != py::detail::npy_api::NPY_UBYTE_ || !c_contiguous(c))
        throw py::type_error("codes: expected a C-contiguous uint8 array, got " +
                             dtype_name(codes));
    const header a = checked_array(absmax.ptr(), "absmax", false);
    if (a.type_num != py::detail::npy_api::NPY_FLOAT_ || !a.native_order || a.ndim != 1 ||
        a.size != quantization_blocks(c.size))
        throw py::value_error("absmax: expected " + std::to_string(quantization_blocks(c.size)) +
                              " float32 scales (one per block of 256 codes), got " +
                              dtype_name(absmax) + " of shape " + shape_of(absmax));
    std::vector<std::unique_ptr<code_map>> owned;
    const code_map& map = code_map_of(qmap.ptr(), "qmap", owned);
    py::array_t<float> out(std::vector<py::ssize_t>(c.shape, c.shape + c.ndim));
    {
        py::gil_scoped_release release;
        dequantize_blockwise(reinterpret_cast<const std::uint8_t*>(c.data),
                             reinterpret_cast<const float*>(a.data), c.size, map,
                             out.mutable_data());
    }
    return out;
}

}  // namespace

void register_quantize(py::module_& m) {
    m.attr("QUANTIZATION_BLOCK") = quantization_block;
    m.def("dynamic_map", &dynamic_map, py::arg("signed"),
          "bitsandbytes' dynamic code map (create_dynamic_map): 256 sorted float32 codes.");
    m.def("quantize_blockwise", &quantize_blockwise_py, py::arg("values"), py::arg("qmap"),
          "(codes, absmax): the nearest code to each value over its block's largest magnitude, "
          "per block of 256 elements.");
    m.def("dequantize_blockwise", &dequantize_blockwise_py, py::arg("codes"), py::arg("absmax"),
          py::arg("qmap"), "The float32 values codes * absmax stand for.");
}

}  // namespace optikern::python
