// The message a user sees when a layer call does not fit its inputs.
#pragma once
#include <vector>

#include "layers/graph.h"
#include "layers/layer.h"

namespace tg {

// Throws a ShapeError that reads
//   Concatenate layer 'concatenate' does not fit its inputs:
//     input 0: 'batch_normalization_3' (BatchNormalization, after 'conv2d_3'), shape (None, 64, 64, 64): 1/2 of ...
//     input 1: ...
//   <the layer's own sentence about what does not fit>
//   <for joins whose height or width differ: the input sizes that make them line up, or that none does>
[[noreturn]] void throw_shape_error(const Layer& layer, const std::vector<SymbolicTensor>& inputs,
                                    const ShapeError& problem);

}  // namespace tg
