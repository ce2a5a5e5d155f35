#include <doctest/doctest.h>

#include <algorithm>

#include "data/tensor_dataset.h"
#include "layers/layers.h"
#include "train/render.h"
#include "train/report.h"

using namespace tg;
using namespace tg::train;

TEST_CASE("render: base64 of the RFC 4648 test vectors") {
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("foobar") == "Zm9vYmFy");
}

TEST_CASE("render: PNG bytes start with the PNG signature, grey levels spread over 0..255") {
  Tensor classes = Tensor::from({0, 1, 2, 2}, {2, 2});
  std::string png = encode_png(picture_from_classes(classes));
  CHECK(png.substr(1, 3) == "PNG");
  Picture grey = grey_from_classes(classes, 3, false);
  CHECK(grey.pixels == std::vector<uint8_t>{0, 128, 255, 255});
  CHECK(grey_from_classes(classes, 3, true).pixels == std::vector<uint8_t>{0, 1, 2, 2});
}

TEST_CASE("render: overlay keeps background pixels and tints the others") {
  Tensor image = Tensor::full({1, 2, 1}, 0.5);
  Tensor classes = Tensor::from({0, 1}, {1, 2});
  Picture p = overlay(image, classes);
  CHECK(p.pixels[0] == 128);
  CHECK(p.pixels[1] == 128);
  CHECK(p.pixels[3] != 128);  // tinted by class 1's colour
  CHECK_THROWS_WITH_AS(overlay(image, Tensor({2, 2})), doctest::Contains("differ in size"), std::invalid_argument);
}

TEST_CASE("report: self-contained page with curves, samples, summary, config and throughput") {
  ReportData d;
  d.title = "run <1>";
  d.history = {{{"epoch", 1}, {"loss", 0.9}, {"val_loss", 1.0}, {"val_mean_iou", 0.4}},
               {{"epoch", 2}, {"loss", 0.5}, {"val_loss", 0.6}, {"val_mean_iou", 0.7}}};
  d.samples.push_back({"sample 0", Tensor::full({4, 4, 1}, 0.3), Tensor::zeros({4, 4}), Tensor::ones({4, 4})});
  d.model_summary = "Model: \"unet\"";
  d.config = {{"seed", 42}};
  d.throughput = {{"images/s", "12.5"}};
  d.status = "finished";
  const std::string html = render_report_html(d);
  for (const char* section : {"id='curves'", "id='samples'", "id='throughput'", "id='model'", "id='config'", "<svg",
                              "<polyline", "data:image/png;base64,", "&quot;seed&quot;: 42", "run &lt;1&gt;", "12.5"})
    CHECK_MESSAGE(html.find(section) != std::string::npos, section);
  // Self-contained: no scripts, no external resources.
  CHECK(html.find("<script") == std::string::npos);
  size_t pos = 0;
  while ((pos = html.find("http", pos)) != std::string::npos) {
    CHECK(html.compare(pos, 26, "http://www.w3.org/2000/svg") == 0);
    ++pos;
  }
}

TEST_CASE("report: hostile names in every user text stay text (no attribute or element can be opened)") {
  const std::string name = "a' onload='alert(1);.png";
  const std::string tag = "<img src=x onerror=alert(2)>";
  const std::string quote = "b\" onmouseover=\"alert(3)\" &amp;\nnext";
  ReportData d;
  d.title = quote;
  d.status = tag;
  d.history = {{{"epoch", 1}, {"loss", 0.9}, {"val_iou_" + name, 0.5}, {"val_iou_" + tag, 0.4}}};
  for (const std::string& s : {name, tag, quote})
    d.samples.push_back({s, Tensor::full({2, 2, 1}, 0.3), Tensor::zeros({2, 2}), Tensor::ones({2, 2})});
  d.model_summary = tag;
  d.class_names = {name, tag, quote};
  d.confusion = ConfusionMatrix::from_json({{"num_classes", 3}, {"ignore_index", -1}, {"counts", {1, 2, 3, 4, 5, 6, 7, 8, 9}}});
  d.confusion_of = tag;
  d.augmented.push_back({tag, Tensor::full({2, 2, 1}, 0.3), Tensor::zeros({2, 2}), Tensor()});
  d.config = {{"classes", {name, tag, quote}}};
  d.throughput = {{name, tag}};
  const std::string html = render_report_html(d);
  for (const char* raw : {"onload='", "<img src=x", "onmouseover=\"", "&amp;\n"})
    CHECK_MESSAGE(html.find(raw) == std::string::npos, raw);
  CHECK(html.find("a&#39; onload=&#39;alert(1);.png image") != std::string::npos);
  CHECK(html.find("&lt;img src=x onerror=alert(2)&gt;") != std::string::npos);
  CHECK(html.find("b&quot; onmouseover=&quot;alert(3)&quot; &amp;amp;") != std::string::npos);
  // Every ' that remains delimits one of the page's own attributes: an even number inside each tag.
  size_t open = 0;
  while ((open = html.find('<', open)) != std::string::npos) {
    const size_t close = html.find('>', open);
    REQUIRE(close != std::string::npos);
    const std::string tag_text = html.substr(open, close - open);
    CHECK_MESSAGE(std::count(tag_text.begin(), tag_text.end(), '\'') % 2 == 0, tag_text.substr(0, 80));
    open = close;
  }
}

TEST_CASE("report: chart with no data says so") {
  CHECK(svg_line_chart("loss", {}, {"loss"}).find("no data yet") != std::string::npos);
}

TEST_CASE("report: metric columns in natural order, epoch first (dice_2 before dice_10)") {
  ReportData d;
  d.history = {{{"epoch", 1}, {"dice_10", 0.1}, {"dice_2", 0.2}, {"dice_1", 0.3}, {"accuracy", 0.5}}};
  const std::string html = render_report_html(d);
  const size_t table = html.find("id='metrics'");
  REQUIRE(table != std::string::npos);
  std::vector<size_t> at;
  for (const char* c : {"<th>epoch", "<th>accuracy", "<th>dice_1<", "<th>dice_2<", "<th>dice_10<"}) {
    at.push_back(html.find(c, table));
    CHECK_MESSAGE(at.back() != std::string::npos, c);
  }
  CHECK(std::is_sorted(at.begin(), at.end()));
}

TEST_CASE("report: per-class IoU and Dice at the best epoch, validation figures when there are any") {
  ReportData d;
  d.history = {{{"epoch", 1}, {"val_iou_0", 0.11}, {"val_dice_0", 0.12}, {"val_iou_1", 0.13}, {"val_dice_1", 0.14},
                {"iou_0", 0.9}, {"dice_0", 0.9}},
               {{"epoch", 2}, {"val_iou_0", 0.21}, {"val_dice_0", 0.22}, {"val_iou_1", 0.23}, {"val_dice_1", 0.24}},
               {{"epoch", 3}, {"val_iou_0", 0.31}, {"val_dice_0", 0.32}, {"val_iou_1", 0.33}, {"val_dice_1", 0.34}}};
  d.best_epoch = 2;
  d.best_by = "best val_loss";
  const std::string html = render_report_html(d);
  const size_t at = html.find("id='classes'");
  REQUIRE(at != std::string::npos);
  const std::string section = html.substr(at, html.find("</table>", at) - at);
  CHECK(section.find("epoch 2 (best val_loss), validation") != std::string::npos);
  for (const char* value : {"<td>0.21</td><td>0.22</td>", "<td>0.23</td><td>0.24</td>"})
    CHECK_MESSAGE(section.find(value) != std::string::npos, value);
  CHECK(section.find("0.31") == std::string::npos);
  CHECK(section.find("width='48'") != std::string::npos);  // Dice 0.24 of a 200-pixel bar

  d.best_epoch = 0;  // no monitor: the last epoch
  const std::string last = render_report_html(d);
  CHECK(last.find("Per class at epoch 3, validation") != std::string::npos);
  d.history = {{{"epoch", 1}, {"loss", 0.5}}};  // no per-class figures: no section
  CHECK(render_report_html(d).find("id='classes'") == std::string::npos);
}

TEST_CASE("report: the samples shown are spread over the validation set, not its first files") {
  const Tensor images = Tensor::zeros({10, 4, 4, 1});
  const Tensor labels = Tensor::zeros({10, 4, 4});
  auto dataset = std::make_shared<data::TensorDataset>(images, labels, data::TensorDatasetOptions{2, -1});
  auto x = Input({4, 4, 1});
  Model model(x, Conv2D(2, 1).activation("softmax")(x));
  std::vector<std::string> names;
  for (const ReportSample& s : predict_samples(model, {dataset, {}}, 4)) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"00000", "00002", "00005", "00007"});
  names.clear();
  for (const ReportSample& s : predict_samples(model, {dataset, {9, 8, 1}}, 6)) names.push_back(s.name);
  CHECK(names == std::vector<std::string>{"00009", "00008", "00001"});
}

TEST_CASE("report: class names, a colour legend, the confusion matrix as a heat map, augmented samples") {
  ReportData d;
  d.history = {{{"epoch", 1}, {"val_iou_0", 0.5}, {"val_dice_0", 0.6}, {"val_iou_1", 0.7}, {"val_dice_1", 0.8}}};
  d.class_names = {"membrane", "cell"};
  // Rows are true classes: class 0 has 6 + 2 + 2 pixels, class 1 none at all, class 2 all predicted as 2.
  d.confusion = ConfusionMatrix::from_json({{"num_classes", 3}, {"ignore_index", -1}, {"counts", {6, 2, 2, 0, 0, 0, 0, 0, 5}}});
  d.confusion_of = "validation, epoch 1";
  d.samples.push_back({"s", Tensor::full({4, 4, 1}, 0.3), Tensor::zeros({4, 4}), Tensor::ones({4, 4})});
  d.augmented.push_back({"a", Tensor::full({4, 4, 1}, 0.6), Tensor::ones({4, 4}), Tensor()});
  const std::string html = render_report_html(d);
  const size_t classes = html.find("id='classes'");
  REQUIRE(classes != std::string::npos);
  CHECK(html.find("0 membrane</td>", classes) != std::string::npos);
  CHECK(html.find("1 cell</td>", classes) != std::string::npos);

  const size_t heat = html.find("id='confusion'");
  REQUIRE(heat != std::string::npos);
  const std::string map = html.substr(heat, html.find("</svg>", heat) - heat);
  CHECK(map.find("Confusion matrix (validation, epoch 1)") != std::string::npos);
  for (const char* cell : {">60%<", ">20%<", ">100%<", ">-<"}) CHECK_MESSAGE(map.find(cell) != std::string::npos, cell);
  CHECK(map.find("fill='rgb(20,70,160)'") != std::string::npos);    // a whole row: darkest
  CHECK(map.find("fill='rgb(255,255,255)'") != std::string::npos);  // nothing: white
  CHECK(map.find("true 0 membrane, predicted 1 cell: 2 pixels (20% of the true class)") != std::string::npos);
  CHECK(map.find(">2<") != std::string::npos);  // the unnamed class keeps its id

  // The legend names each class beside its colour (class 1 is drawn rgb(230,80,60), as the pictures draw it).
  const size_t samples = html.find("id='samples'");
  REQUIRE(samples != std::string::npos);
  const auto c1 = class_colour(1);
  const std::string swatch1 = "background:rgb(" + std::to_string(c1[0]) + "," + std::to_string(c1[1]) + "," +
                              std::to_string(c1[2]) + ")'></span>1 cell";
  CHECK(html.find(swatch1, samples) != std::string::npos);
  const size_t augmented = html.find("id='augmented'");
  REQUIRE(augmented != std::string::npos);
  CHECK(html.find("a augmented image", augmented) != std::string::npos);

  d.confusion.reset();
  d.augmented.clear();
  const std::string plain = render_report_html(d);
  CHECK(plain.find("id='confusion'") == std::string::npos);
  CHECK(plain.find("id='augmented'") == std::string::npos);
}

TEST_CASE("report: augmented_samples are the run's augmentation of spread training samples, none without one") {
  Tensor images({4, 8, 8, 1}), labels({4, 8, 8});
  for (int64_t i = 0; i < labels.numel(); ++i) {
    labels.data<float>()[i] = static_cast<float>((i / 3) % 2);
    images.data<float>()[i] = labels.data<float>()[i] * 0.5f;
  }
  const DataSource source{std::make_shared<data::TensorDataset>(images, labels), {}};
  FitOptions o;
  CHECK(augmented_samples(source, o, 3).empty());
  data::AugmentOptions a;
  a.horizontal_flip = a.rotate90 = true;
  o.augment = a;
  const std::vector<ReportSample> s = augmented_samples(source, o, 3);
  REQUIRE(s.size() == 3);
  for (const ReportSample& r : s)  // moved together: the image still encodes the labels
    for (int64_t i = 0; i < 64; ++i) CHECK(r.image.flat(i) == doctest::Approx(r.truth.flat(i) * 0.5));
  CHECK(augmented_samples(source, o, 3)[1].truth.to_vector() == s[1].truth.to_vector());  // seeded
}
