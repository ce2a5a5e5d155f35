// Checking and resolving the arguments of layer classes: single image inputs, positive pairs, Keras's padding
// strings, and the window geometry shared by convolutions and pooling.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "autograd/ops.h"
#include "layers/layer.h"

namespace tg {

// The single input's shape; throws ShapeError unless there is exactly one input (of rank 3 when `image`).
const Shape& single_input(const std::vector<Shape>& inputs, const std::string& class_name, bool image);

// Throws std::invalid_argument naming `who` and `argument` unless both entries are positive.
std::array<int, 2> positive_pair(std::array<int, 2> value, const char* argument, const std::string& who);

// Keras's padding strings, in any case: 'valid' or 'same'. Throws std::invalid_argument naming `who` (the layer)
// and the accepted values.
Padding parse_padding(const std::string& padding, const std::string& who);
// "valid" or "same", as configs store it.
std::string padding_name(Padding padding);

// "3x3"; "(0, 1, 0, 1)" (top, bottom, left, right), as the summary prints padding.
std::string pair_str(std::array<int, 2> p);
std::string pad_str(const Pad2D& p);

// Output height and width of a conv or pooling window over `in` (height, width, ...), with TensorFlow's padding;
// throws ShapeError when the window does not fit.
std::array<int64_t, 2> window_output(const Shape& in, std::array<int, 2> window, std::array<int, 2> strides,
                                     std::array<int, 2> dilation, Padding padding, const char* what);
Pad2D window_padding(const Shape& in, std::array<int, 2> window, std::array<int, 2> strides,
                     std::array<int, 2> dilation, Padding padding);

}  // namespace tg
