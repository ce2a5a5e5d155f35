// Fusion of layer pairs into one op when a Model runs: the U-Net decoder's UpSampling2D(2, nearest) -> Conv2D(2x2,
// 'same') and Concatenate(channels) -> Conv2D run as autograd's upsample2x_conv2d and concat_conv2d, which never
// build the upsampled or concatenated tensor (forward) nor its gradient (backward). A pair fuses only when the first
// layer's output is read by the convolution alone (and is not a model output), so nothing else needs the tensor.
//
// What a user sees stays the same: the layers, their names, weights, summary and checkpoints are untouched (fusion
// only changes how Model::run computes), the values agree with the separate layers to float32 rounding, and the
// profiler counts the fused op with the convolution's layer (the first layer's row stays, with no work). The plan
// is made once, when the Model is built; Model::run follows it unless fusion is off (Model::set_fusion(false), or
// TAPEGRAD_FUSION=off in the environment) or a layer hook that wants every layer's own output is set.
#pragma once
#include <cstddef>
#include <vector>

#include "layers/graph.h"
#include "layers/layer.h"

namespace tg {

enum class FusedWith { nothing, upsampling, concatenation };

struct FusionPlan {
  std::vector<FusedWith> fused;              // per call: a Conv2D run fused with the layer before it
  std::vector<bool> folded;                  // per call: a layer computed inside the next one's fused op
  std::vector<std::vector<size_t>> sources;  // per call: what it reads when fused (a fused Conv2D: its producer's inputs)
  std::vector<size_t> last_use;              // per call: the last call reading it when fused (calls.size(): an output)
  bool any() const;
};

// The plan for a model's calls in topological order, with the indices each call reads and the model's outputs.
FusionPlan plan_fusion(const std::vector<CallPtr>& calls, const std::vector<std::vector<size_t>>& sources,
                       const std::vector<size_t>& outputs);

// Runs call `call`, fused as the plan says, on what plan.sources lists.
Variable call_fused(FusedWith how, const LayerCall& call, const std::vector<Variable>& inputs, CallContext& context);

// TAPEGRAD_FUSION: unset or "on", fusion on; "off", off. Read once; another value is an error naming the variable.
bool fusion_enabled_by_environment();
// A TAPEGRAD_FUSION value (null: unset); throws std::runtime_error naming the variable and the accepted values.
bool parse_fusion_setting(const char* value);

}  // namespace tg
