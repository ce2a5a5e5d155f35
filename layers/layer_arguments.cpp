#include "layers/layer_arguments.h"

#include <cctype>
#include <stdexcept>

namespace tg {

const Shape& single_input(const std::vector<Shape>& inputs, const std::string& class_name, bool image) {
  if (inputs.size() != 1)
    throw ShapeError(class_name + " takes one input, not " + std::to_string(inputs.size()) + ".");
  if (image && inputs[0].size() != 3)
    throw ShapeError(class_name + " needs an image input (batch, height, width, channels), not " +
                     keras_shape(inputs[0]) + ".");
  return inputs[0];
}

std::array<int, 2> positive_pair(std::array<int, 2> value, const char* argument, const std::string& who) {
  if (value[0] <= 0 || value[1] <= 0)
    throw std::invalid_argument(who + ": " + argument + " must be positive, got (" + std::to_string(value[0]) + ", " +
                                std::to_string(value[1]) + ")");
  return value;
}

std::string pair_str(std::array<int, 2> p) { return std::to_string(p[0]) + "x" + std::to_string(p[1]); }

std::string pad_str(const Pad2D& p) {
  return "(" + std::to_string(p.top) + ", " + std::to_string(p.bottom) + ", " + std::to_string(p.left) + ", " +
         std::to_string(p.right) + ")";
}

Padding parse_padding(const std::string& padding, const std::string& who) {
  std::string p;
  for (char c : padding) p += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p == "valid") return Padding::Valid;
  if (p == "same") return Padding::Same;
  throw std::invalid_argument(who + ": padding '" + padding + "' is not one of 'valid', 'same'");
}

std::string padding_name(Padding padding) {
  switch (padding) {
    case Padding::Valid: return "valid";
    case Padding::Same: return "same";
    case Padding::Explicit: break;
  }
  throw std::logic_error("padding_name: layers take 'valid' or 'same' padding only");
}

Pad2D window_padding(const Shape& in, std::array<int, 2> window, std::array<int, 2> strides,
                     std::array<int, 2> dilation, Padding padding) {
  ConvOptions o;
  o.strides = strides;
  o.dilation = dilation;
  o.padding = padding;
  return resolve_padding(o, static_cast<int>(in[0]), static_cast<int>(in[1]), window[0], window[1]);
}

std::array<int64_t, 2> window_output(const Shape& in, std::array<int, 2> window, std::array<int, 2> strides,
                                     std::array<int, 2> dilation, Padding padding, const char* what) {
  const Pad2D p = window_padding(in, window, strides, dilation, padding);
  const int pads[2][2] = {{p.top, p.bottom}, {p.left, p.right}};
  std::array<int64_t, 2> out{};
  for (int a = 0; a < 2; ++a) {
    const int64_t span = (window[a] - 1) * dilation[a] + 1;
    if (in[a] + pads[a][0] + pads[a][1] < span)
      throw ShapeError("Its " + pair_str(window) + " " + what +
                       (dilation[0] > 1 || dilation[1] > 1 ? " (dilated to " +
                                                                  std::to_string((window[0] - 1) * dilation[0] + 1) +
                                                                  "x" +
                                                                  std::to_string((window[1] - 1) * dilation[1] + 1) +
                                                                  ")"
                                                            : std::string()) +
                       " does not fit in the " + std::to_string(in[0]) + "x" + std::to_string(in[1]) + " input with '" +
                       padding_name(padding) + "' padding; use padding 'same', a smaller window or a larger input.");
    out[a] = conv_output_size(static_cast<int>(in[a]), window[a], strides[a], dilation[a], pads[a][0], pads[a][1]);
  }
  return out;
}

}  // namespace tg
