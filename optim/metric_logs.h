// The metrics of an epoch by name, as fit logs them and an epoch-end schedule (ReduceLROnPlateau) reads them.
#pragma once
#include <map>
#include <string>

namespace tg {

using MetricLogs = std::map<std::string, double>;  // "loss", "pixel_accuracy", "dice_1", "val_mean_iou", ...

}  // namespace tg
