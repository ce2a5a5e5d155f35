#include "layers/fusion.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "layers/conv2d.h"
#include "layers/merge.h"
#include "layers/upsampling2d.h"

namespace tg {

namespace {

// How `conv` can fuse with `producer`, the layer whose output it reads.
FusedWith fusion_of(const Layer& producer, const Conv2D& conv) {
  if (const auto* up = dynamic_cast<const UpSampling2D*>(&producer))
    return up->interpolation() == "nearest" && up->upsampling() == std::array<int, 2>{2, 2} &&
                   conv.fuses_with_upsampling()
               ? FusedWith::upsampling
               : FusedWith::nothing;
  // Axis counted with the batch axis, as in Keras: the channels of the image a Conv2D reads are 3 (or -1).
  if (const auto* join = dynamic_cast<const Concatenate*>(&producer))
    return join->axis() == 3 || join->axis() == -1 ? FusedWith::concatenation : FusedWith::nothing;
  return FusedWith::nothing;
}

}  // namespace

bool FusionPlan::any() const {
  return std::any_of(fused.begin(), fused.end(), [](FusedWith f) { return f != FusedWith::nothing; });
}

FusionPlan plan_fusion(const std::vector<CallPtr>& calls, const std::vector<std::vector<size_t>>& sources,
                       const std::vector<size_t>& outputs) {
  const size_t n = calls.size();
  // How often each call's output is read: once per input slot that names it, once more for a model output.
  std::vector<int> readers(n, 0);
  for (const std::vector<size_t>& s : sources)
    for (size_t p : s) ++readers[p];
  for (size_t o : outputs) ++readers[o];

  FusionPlan plan{std::vector<FusedWith>(n, FusedWith::nothing), std::vector<bool>(n, false), sources, {}};
  for (size_t i = 0; i < n; ++i) {
    const auto* conv = dynamic_cast<const Conv2D*>(calls[i]->layer.get());
    if (!conv || sources[i].size() != 1 || readers[sources[i][0]] != 1) continue;
    const size_t p = sources[i][0];
    const FusedWith how = fusion_of(*calls[p]->layer, *conv);
    if (how == FusedWith::nothing) continue;
    plan.fused[i] = how;
    plan.folded[p] = true;
    plan.sources[i] = sources[p];
    plan.sources[p].clear();
  }
  plan.last_use = last_uses(plan.sources, outputs);
  return plan;
}

Variable call_fused(FusedWith how, const LayerCall& call, const std::vector<Variable>& inputs, CallContext& context) {
  switch (how) {
    case FusedWith::nothing:
      return call.layer->call(inputs, context);
    case FusedWith::upsampling:
      return static_cast<const Conv2D&>(*call.layer).call_upsampled(inputs.at(0), context);
    case FusedWith::concatenation:
      return static_cast<const Conv2D&>(*call.layer).call_concatenated(inputs, context);
  }
  throw std::logic_error("call_fused: unknown fusion");
}

bool parse_fusion_setting(const char* value) {
  if (!value || std::string(value) == "on") return true;
  if (std::string(value) == "off") return false;
  throw std::runtime_error("TAPEGRAD_FUSION='" + std::string(value) + "' is not one of on, off");
}

bool fusion_enabled_by_environment() {
  static const bool enabled = parse_fusion_setting(std::getenv("TAPEGRAD_FUSION"));
  return enabled;
}

}  // namespace tg
