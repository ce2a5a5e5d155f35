#include "train/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

#include "autograd/argmax.h"
#include "autograd/io/safetensors.h"
#include "autograd/parallel.h"
#include "autograd/tape.h"
#include "data/augment.h"
#include "data/folder_scan.h"
#include "train/best_metric.h"
#include "train/mode_guard.h"
#include "train/render.h"

namespace tg::train {

namespace {
// For text and for attribute values in either quote style: the page quotes attributes with ' and user text (file
// names, class names, the title) may hold any character.
std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fmt(double v, int precision = 4) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

constexpr const char* kSeriesColours[] = {"#e6503c", "#3ca0e6", "#5ac864", "#b464dc", "#fa8c1e", "#28c8c8"};

// "3 car", or "3" when the class has no name.
std::string class_label(int c, const std::vector<std::string>& names) {
  const bool named = c >= 0 && static_cast<size_t>(c) < names.size() && !names[c].empty();
  return std::to_string(c) + (named ? " " + names[c] : "");
}

// A square in the class's colour, as the sample pictures draw it.
std::string swatch(int c) {
  const auto rgb = class_colour(c);
  return "<span class='swatch' style='background:rgb(" + std::to_string(rgb[0]) + "," + std::to_string(rgb[1]) + "," +
         std::to_string(rgb[2]) + ")'></span>";
}

// Stream id for Rng::derive(seed, stream, sample) of the report's augmented samples (apart from the loader's draws).
constexpr uint64_t kReportAugmentStream = 0x2e90'47a6ULL;
}  // namespace

std::string svg_confusion_heat_map(const ConfusionMatrix& m, const std::vector<std::string>& names) {
  const int C = m.num_classes();
  const double cell = C <= 6 ? 56 : C <= 16 ? 34 : 18;
  size_t longest = 0;
  for (int c = 0; c < C; ++c) longest = std::max(longest, class_label(c, names).size());
  const double left = 30 + 7.0 * static_cast<double>(std::min<size_t>(longest, 24)), top = 44;
  const double W = left + C * cell + 12, H = top + C * cell + 12;
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' viewBox='0 0 " << W << ' '
      << H << "' role='img' aria-label='confusion matrix' font-family='sans-serif'>";
  svg << "<text x='" << left + C * cell / 2 << "' y='14' text-anchor='middle' font-size='12'>predicted class</text>";
  svg << "<text x='12' y='" << top + C * cell / 2 << "' text-anchor='middle' font-size='12' transform='rotate(-90 12 "
      << top + C * cell / 2 << ")'>true class</text>";
  for (int c = 0; c < C; ++c) {
    svg << "<text x='" << left + (c + 0.5) * cell << "' y='" << top - 6 << "' text-anchor='middle' font-size='11'>" << c
        << "</text>";
    svg << "<text x='" << left - 6 << "' y='" << top + (c + 0.5) * cell + 4 << "' text-anchor='end' font-size='11'>"
        << escape(class_label(c, names).substr(0, 27)) << "</text>";
  }
  for (int t = 0; t < C; ++t) {
    int64_t row = 0;
    for (int p = 0; p < C; ++p) row += m.count(t, p);
    for (int p = 0; p < C; ++p) {
      const double f = row > 0 ? static_cast<double>(m.count(t, p)) / static_cast<double>(row) : 0.0;
      // White (nothing) to dark blue (the whole row).
      const auto mix = [f](int to) { return static_cast<int>(std::lround(255 + f * (to - 255))); };
      svg << "<rect x='" << left + p * cell << "' y='" << top + t * cell << "' width='" << cell << "' height='" << cell
          << "' fill='rgb(" << mix(20) << ',' << mix(70) << ',' << mix(160) << ")' stroke='#ccc'><title>true "
          << escape(class_label(t, names)) << ", predicted " << escape(class_label(p, names)) << ": " << m.count(t, p)
          << " pixels (" << fmt(100 * f, 3) << "% of the true class)</title></rect>";
      if (cell >= 30)
        svg << "<text x='" << left + (p + 0.5) * cell << "' y='" << top + (t + 0.5) * cell + 4
            << "' text-anchor='middle' font-size='11' fill='" << (f > 0.5 ? "#fff" : "#222") << "'>"
            << (row > 0 ? fmt(100 * f, 3) + "%" : "-") << "</text>";
    }
  }
  svg << "</svg>";
  return svg.str();
}

std::string svg_line_chart(const std::string& title, const std::vector<std::map<std::string, double>>& history,
                           const std::vector<std::string>& series) {
  constexpr double W = 520, H = 280, left = 50, right = 12, top = 28, bottom = 52;
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  double max_epoch = 1;
  std::vector<std::string> present;
  for (const std::string& s : series) {
    bool any = false;
    for (const auto& row : history) {
      auto it = row.find(s);
      if (it == row.end() || !std::isfinite(it->second)) continue;
      lo = std::min(lo, it->second);
      hi = std::max(hi, it->second);
      any = true;
    }
    if (any) present.push_back(s);
  }
  for (const auto& row : history)
    if (auto it = row.find("epoch"); it != row.end()) max_epoch = std::max(max_epoch, it->second);
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << W << "' height='" << H << "' viewBox='0 0 " << W << ' '
      << H << "' role='img' aria-label='" << escape(title) << "'>";
  svg << "<rect width='100%' height='100%' fill='#fff'/>";
  svg << "<text x='" << W / 2 << "' y='18' text-anchor='middle' font-size='14' font-family='sans-serif'>"
      << escape(title) << "</text>";
  if (present.empty()) {
    svg << "<text x='" << W / 2 << "' y='" << H / 2
        << "' text-anchor='middle' font-size='12' fill='#888' font-family='sans-serif'>no data yet</text></svg>";
    return svg.str();
  }
  if (hi - lo < 1e-12) {
    hi += 0.5;
    lo -= 0.5;
  }
  // Pad the range a little, but never past the bounds the values live in (losses >= 0, scores within [0, 1]).
  const double pad = 0.05 * (hi - lo);
  const bool non_negative = lo >= 0, unit = lo >= 0 && hi <= 1;
  lo -= pad;
  hi += pad;
  if (non_negative) lo = std::max(lo, 0.0);
  if (unit) hi = std::min(hi, 1.0);
  auto x_of = [&](double epoch) { return left + (W - left - right) * (max_epoch > 1 ? (epoch - 1) / (max_epoch - 1) : 0.5); };
  auto y_of = [&](double v) { return top + (H - top - bottom) * (1 - (v - lo) / (hi - lo)); };
  // Axes with five gridlines.
  for (int i = 0; i <= 4; ++i) {
    const double v = lo + (hi - lo) * i / 4, y = y_of(v);
    svg << "<line x1='" << left << "' x2='" << W - right << "' y1='" << y << "' y2='" << y
        << "' stroke='#ddd'/><text x='" << left - 4 << "' y='" << y + 4
        << "' text-anchor='end' font-size='10' font-family='sans-serif'>" << fmt(v, 2) << "</text>";
  }
  svg << "<text x='" << (left + W - right) / 2 << "' y='" << H - 24
      << "' text-anchor='middle' font-size='11' font-family='sans-serif'>epoch (1 to " << fmt(max_epoch) << ")</text>";
  for (size_t k = 0; k < present.size(); ++k) {
    const char* colour = kSeriesColours[k % std::size(kSeriesColours)];
    std::ostringstream points;
    for (const auto& row : history) {
      auto e = row.find("epoch"), v = row.find(present[k]);
      if (e == row.end() || v == row.end() || !std::isfinite(v->second)) continue;
      points << x_of(e->second) << ',' << y_of(v->second) << ' ';
      svg << "<circle cx='" << x_of(e->second) << "' cy='" << y_of(v->second) << "' r='2.5' fill='" << colour << "'/>";
    }
    svg << "<polyline fill='none' stroke='" << colour << "' stroke-width='2' points='" << points.str() << "'/>";
  }
  // The legend sits below the plot, entries spaced by their text length so that long names never overlap.
  double x = left;
  for (size_t k = 0; k < present.size(); ++k) {
    const char* colour = kSeriesColours[k % std::size(kSeriesColours)];
    svg << "<rect x='" << x << "' y='" << H - 14 << "' width='10' height='10' fill='" << colour << "'/><text x='"
        << x + 14 << "' y='" << H - 5 << "' font-size='11' font-family='sans-serif'>" << escape(present[k])
        << "</text>";
    x += 24 + 6.5 * static_cast<double>(present[k].size());
  }
  svg << "</svg>";
  return svg.str();
}

std::string render_report_html(const ReportData& d) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>" << escape(d.title) << "</title>\n"
    << "<style>body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}"
       "h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
       ".charts{display:flex;flex-wrap:wrap;gap:12px}"
       "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}"
       ".scroll{overflow-x:auto}"
       ".grid{display:grid;grid-template-columns:repeat(6,max-content);gap:6px;align-items:start}"
       ".grid img{width:160px;height:160px;image-rendering:pixelated;border:1px solid #ccc}"
       ".grid .head{font-weight:bold;font-size:13px}"
       ".swatch{display:inline-block;width:12px;height:12px;margin-right:5px;border:1px solid #888;vertical-align:-1px}"
       ".legend span.item{margin-right:16px;white-space:nowrap}pre{background:#f6f6f6;padding:10px;font-size:12px;overflow:auto}"
       "</style></head><body>\n";
  h << "<h1>" << escape(d.title) << "</h1>\n<p id='status'>" << escape(d.status) << "</p>\n";

  h << "<h2 id='curves'>Curves</h2>\n<div class='charts'>"
    << svg_line_chart("loss", d.history, {"loss", "val_loss"})
    << svg_line_chart("accuracy, Dice and IoU", d.history,
                      {"pixel_accuracy", "val_pixel_accuracy", "val_mean_dice", "val_mean_iou"})
    << "</div>\n";

  h << "<h2 id='metrics'>Metrics per epoch</h2>\n<div class='scroll'><table><tr>";
  std::vector<std::string> columns;
  for (const auto& row : d.history)
    for (const auto& [k, v] : row)
      if (std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  std::stable_sort(columns.begin(), columns.end(), [](const std::string& a, const std::string& b) {
    return (a == "epoch") != (b == "epoch") ? a == "epoch" : data::natural_less(a, b);
  });
  for (const auto& c : columns) h << "<th>" << escape(c) << "</th>";
  h << "</tr>\n";
  for (const auto& row : d.history) {
    h << "<tr>";
    for (const auto& c : columns) {
      auto it = row.find(c);
      h << "<td>" << (it == row.end() ? "" : fmt(it->second)) << "</td>";
    }
    h << "</tr>\n";
  }
  h << "</table></div>\n";

  // Per class at the best epoch: IoU and Dice (validation when there is validation), as a table and bars.
  if (!d.history.empty()) {
    const std::map<std::string, double>* chosen = &d.history.back();
    for (const auto& row : d.history)
      if (const auto it = row.find("epoch"); it != row.end() && it->second == static_cast<double>(d.best_epoch))
        chosen = &row;
    const std::string prefix = chosen->count("val_iou_0") ? "val_" : "";
    std::vector<std::pair<double, double>> per_class;  // (IoU, Dice)
    for (int c = 0;; ++c) {
      const auto iou = chosen->find(prefix + "iou_" + std::to_string(c));
      const auto dice = chosen->find(prefix + "dice_" + std::to_string(c));
      if (iou == chosen->end() || dice == chosen->end()) break;
      per_class.emplace_back(iou->second, dice->second);
    }
    if (!per_class.empty()) {
      const auto found = chosen->find("epoch");
      const int64_t epoch = found == chosen->end() ? 0 : static_cast<int64_t>(found->second);
      const bool at_best = d.best_epoch > 0 && epoch == d.best_epoch;
      h << "<h2 id='classes'>Per class at epoch " << epoch << (at_best ? " (" + escape(d.best_by) + ")" : "")
        << (prefix.empty() ? ", training batches" : ", validation") << "</h2>\n<table><tr><th>class</th><th>IoU</th>"
        << "<th>Dice</th><th></th></tr>\n";
      for (size_t c = 0; c < per_class.size(); ++c) {
        const double dice = std::clamp(per_class[c].second, 0.0, 1.0);
        h << "<tr><td style='text-align:left'>" << swatch(static_cast<int>(c))
          << escape(class_label(static_cast<int>(c), d.class_names)) << "</td><td>" << fmt(per_class[c].first) << "</td><td>" << fmt(per_class[c].second)
          << "</td><td style='text-align:left'><svg width='200' height='12'><rect width='" << std::lround(200 * dice)
          << "' height='12' fill='#3ca0e6'/></svg></td></tr>\n";
      }
      h << "</table>\n";
    }
  }

  if (d.confusion) {
    h << "<h2 id='confusion'>Confusion matrix (" << escape(d.confusion_of) << ")</h2>\n<p>Each row is one true class; "
      << "a cell is the share of that class's pixels predicted as the column's class (the diagonal is the recall).</p>"
      << svg_confusion_heat_map(*d.confusion, d.class_names) << "\n";
  }

  // The colours of the class pictures.
  const int classes = d.confusion ? d.confusion->num_classes() : std::max<int>(2, static_cast<int>(d.class_names.size()));
  std::ostringstream legend;
  legend << "<p class='legend'>";
  for (int c = 0; c < classes; ++c)
    legend << "<span class='item'>" << swatch(c) << escape(class_label(c, d.class_names)) << "</span>";
  legend << "</p>\n";

  // Two samples per row: image, ground truth, prediction, twice.
  h << "<h2 id='samples'>Validation samples</h2>\n" << legend.str() << "<div class='grid'>";
  for (int twice = 0; twice < 2; ++twice)
    h << "<div class='head'>image</div><div class='head'>ground truth</div><div class='head'>prediction</div>";
  h << "\n";
  for (const ReportSample& s : d.samples) {
    h << "<img alt='" << escape(s.name) << " image' src='" << png_data_uri(picture_from_image(s.image)) << "'>"
      << "<img alt='" << escape(s.name) << " truth' src='" << png_data_uri(picture_from_classes(s.truth)) << "'>"
      << "<img alt='" << escape(s.name) << " prediction' src='" << png_data_uri(picture_from_classes(s.prediction))
      << "'>\n";
  }
  h << "</div>\n";

  if (!d.augmented.empty()) {  // three per row: image and ground truth, three times
    h << "<h2 id='augmented'>Augmented training samples</h2>\n<p>As the run's augmentation draws them (one draw each;"
      << " the loader draws anew for every step).</p>\n" << legend.str() << "<div class='grid'>";
    for (int times = 0; times < 3; ++times) h << "<div class='head'>image</div><div class='head'>ground truth</div>";
    h << "\n";
    for (const ReportSample& s : d.augmented)
      h << "<img alt='" << escape(s.name) << " augmented image' src='" << png_data_uri(picture_from_image(s.image))
        << "'><img alt='" << escape(s.name) << " augmented truth' src='" << png_data_uri(picture_from_classes(s.truth))
        << "'>\n";
    h << "</div>\n";
  }

  h << "<h2 id='throughput'>Throughput</h2>\n<table>";
  for (const auto& [k, v] : d.throughput) h << "<tr><th>" << escape(k) << "</th><td>" << escape(v) << "</td></tr>";
  h << "</table>\n";
  h << "<h2 id='model'>Model</h2>\n<pre>" << escape(d.model_summary) << "</pre>\n";
  h << "<h2 id='config'>Configuration</h2>\n<pre>" << escape(d.config.dump(2)) << "</pre>\n";
  h << "</body></html>\n";
  return h.str();
}

void write_report(const std::string& path, const ReportData& data) { write_file_atomically(path, render_report_html(data)); }

std::vector<ReportSample> predict_samples(Model& model, const DataSource& source, int count) {
  std::vector<ReportSample> samples;
  if (!source.dataset || count <= 0) return samples;
  ModeGuard mode(model);
  model.eval();
  NoGrad no_grad;
  const std::vector<size_t> indices = source.sample_indices();
  const size_t n = std::min(static_cast<size_t>(count), indices.size());
  for (size_t j = 0; j < n; ++j) {
    // Spread evenly over the samples: neighbouring files (slices of one volume, frames of one video) look alike.
    const size_t i = j * indices.size() / n;
    data::Sample s = source.dataset->get(indices[i]);
    const Shape& in = s.image.shape();
    Tensor out = model.forward(Variable(s.image.reshape({1, in[0], in[1], in[2]}))).value();
    Tensor pred;
    if (out.dim(3) == 1) {  // one sigmoid channel: class 1 above 0.5
      pred = Tensor({in[0], in[1]});
      const float* p = out.data<float>();
      for (int64_t px = 0; px < pred.numel(); ++px) pred.data<float>()[px] = p[px] > 0.5f ? 1.0f : 0.0f;
    } else {
      pred = argmax(out).reshape({in[0], in[1]});
    }
    samples.push_back({source.dataset->name(indices[i]), s.image, s.labels, pred});
  }
  return samples;
}

std::vector<ReportSample> augmented_samples(const DataSource& source, const FitOptions& options, int count) {
  std::vector<ReportSample> samples;
  if (!source.dataset || count <= 0 || !options.augment || !options.augment->any()) return samples;
  const std::vector<size_t> indices = source.sample_indices();
  const size_t n = std::min(static_cast<size_t>(count), indices.size());
  for (size_t j = 0; j < n; ++j) {
    const size_t i = indices[j * indices.size() / n];
    Rng rng = Rng::derive(options.seed, kReportAugmentStream, j);
    data::Sample s = source.dataset->get(i, &rng);
    data::augment(s, *options.augment, rng);
    samples.push_back({source.dataset->name(i), s.image, s.labels, Tensor()});
  }
  return samples;
}

ReportData epoch_report(const EpochEnd& end, const std::string& model_summary, int64_t steps_per_epoch,
                        std::vector<ReportSample> samples) {
  const FitOptions& options = end.options;
  ReportData r;
  r.title = options.report_title.empty() ? "tapegrad: " + end.model.name() : options.report_title;
  for (const EpochRecord& rec : end.history) {
    std::map<std::string, double> row(rec.metrics.begin(), rec.metrics.end());
    row["epoch"] = static_cast<double>(rec.epoch);
    row["learning_rate"] = rec.learning_rate;
    r.history.push_back(std::move(row));
  }
  r.samples = std::move(samples);
  r.class_names = options.class_names;
  r.model_summary = model_summary;
  r.config = options.extra_config;
  r.config["fit"] = options.to_json();
  const double seconds = end.record.seconds;
  const double images = static_cast<double>(steps_per_epoch * options.batch_size);
  const auto fixed = [](double v, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return std::string(buf);
  };
  r.throughput = {{"threads", std::to_string(num_threads())},
                  {"epoch time (s)", fixed(seconds, 1)},
                  {"images/s (training, incl. data and validation)", fixed(images / seconds, 2)},
                  {"ms per step (incl. validation)", fixed(1e3 * seconds / static_cast<double>(steps_per_epoch), 0)}};
  if (!options.monitor.empty()) {  // the epoch best.safetensors holds, found as fit finds it
    BestMetric best(options.monitor, options.monitor_mode);
    for (const EpochRecord& rec : end.history)
      if (const auto it = rec.metrics.find(options.monitor); it != rec.metrics.end()) best.update(it->second, rec.epoch);
    r.best_epoch = best.best_epoch;
    r.best_by = "best " + options.monitor;
  }
  r.status = "epoch " + std::to_string(end.record.epoch) + " of " + std::to_string(options.epochs) + ", step " +
             std::to_string(end.record.global_step);
  return r;
}

}  // namespace tg::train
