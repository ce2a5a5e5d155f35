#include "data/mask.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "data/data_error.h"

namespace tg::data {

namespace {

std::string pixel_str(int x, int y) { return "(x=" + std::to_string(x) + ", y=" + std::to_string(y) + ")"; }

uint64_t pack(int64_t r, int64_t g, int64_t b) {
  return (static_cast<uint64_t>(r) << 32) | (static_cast<uint64_t>(g) << 16) | static_cast<uint64_t>(b);
}

bool parse_int(std::string s, int& out) {
  const auto a = s.find_first_not_of(" \t\r");
  const auto b = s.find_last_not_of(" \t\r");
  if (a == std::string::npos) return false;
  s = s.substr(a, b - a + 1);
  size_t used = 0;
  try {
    out = std::stoi(s, &used);
  } catch (const std::exception&) {
    return false;
  }
  return used == s.size();
}

std::array<int, 3> rgb_from_json(const nlohmann::json& j, const std::filesystem::path& file) {
  if (!j.is_array() || j.size() != 3)
    throw DataError(file, "palette colour " + j.dump() + " is not an [r, g, b] triple");
  std::array<int, 3> rgb{};
  for (int k = 0; k < 3; ++k) {
    // Compared as 64-bit values: as an int, 4294967296 would wrap to 0, a valid colour.
    const bool in_range = j[k].is_number_unsigned() ? j[k].get<uint64_t>() <= 255
                                                    : j[k].is_number_integer() && j[k].get<int64_t>() >= 0 &&
                                                          j[k].get<int64_t>() <= 255;
    if (!in_range) throw DataError(file, "palette colour " + j.dump() + " must hold integers in 0..255");
    rgb[k] = j[k].get<int>();
  }
  return rgb;
}

std::vector<PaletteEntry> load_json_palette(const std::filesystem::path& file, std::istream& in) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(file, std::string("is not valid JSON: ") + e.what());
  }
  std::vector<PaletteEntry> palette;
  if (j.is_array()) {
    for (size_t i = 0; i < j.size(); ++i) {
      if (!j[i].is_object()) {
        palette.push_back({rgb_from_json(j[i], file), static_cast<int>(i), ""});
        continue;
      }
      const nlohmann::json& e = j[i];
      if (!e.contains("color") || (e.contains("name") && !e["name"].is_string()) ||
          (e.contains("id") && !e["id"].is_number_integer()))
        throw DataError(file, "palette entry " + e.dump() + " is not {\"name\": \"...\", \"color\": [r, g, b]} (an "
                              "integer \"id\" optional)");
      palette.push_back({rgb_from_json(e["color"], file), e.contains("id") ? e["id"].get<int>() : static_cast<int>(i),
                         e.value("name", "")});
    }
  } else if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      int id = 0;
      if (!parse_int(key, id)) throw DataError(file, "palette key '" + key + "' is not a class id");
      palette.push_back({rgb_from_json(value, file), id, ""});
    }
  } else {
    throw DataError(file, "a JSON palette is [[r,g,b], ...], {\"class id\": [r,g,b], ...} or [{\"name\": \"...\", "
                          "\"color\": [r,g,b]}, ...]");
  }
  return palette;
}

std::vector<PaletteEntry> load_csv_palette(const std::filesystem::path& file, std::istream& in) {
  std::vector<PaletteEntry> palette;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();  // a file written on Windows
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
    std::vector<int> fields;
    std::vector<bool> is_number;
    std::string first;
    std::stringstream ss(line);
    for (std::string field; std::getline(ss, field, ',');) {
      int v = 0;
      is_number.push_back(parse_int(field, v));
      fields.push_back(v);
      if (fields.size() == 1) first = field;
    }
    const bool numeric = std::all_of(is_number.begin(), is_number.end(), [](bool b) { return b; });
    // CamVid's "name,r,g,b": a name in the first of four fields, numbers in the rest.
    const bool named = fields.size() == 4 && !is_number[0] &&
                       std::all_of(is_number.begin() + 1, is_number.end(), [](bool b) { return b; });
    if (!numeric && !named && palette.empty()) continue;  // a header such as "class,r,g,b" or "name,r,g,b"
    const bool with_id = fields.size() == 4;
    if ((!numeric && !named) || (fields.size() != 3 && !with_id))
      throw DataError(file, "line " + std::to_string(line_no) + " is not 'class,r,g,b', 'name,r,g,b' or 'r,g,b': " +
                                line);
    std::string name;
    if (named) {
      const size_t begin = first.find_first_not_of(" \t\""), end = first.find_last_not_of(" \t\"");
      if (begin != std::string::npos) name = first.substr(begin, end - begin + 1);
    }
    PaletteEntry e{{fields[with_id], fields[with_id + 1], fields[with_id + 2]},
                   with_id && !named ? fields[0] : static_cast<int>(palette.size()), name};
    for (int c : e.rgb)
      if (c < 0 || c > 255) throw DataError(file, "line " + std::to_string(line_no) + ": colours must be 0..255");
    palette.push_back(e);
  }
  return palette;
}

}  // namespace

MaskEncoding parse_mask_spec(const std::string& spec) {
  const auto colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  const std::string arg = colon == std::string::npos ? "" : spec.substr(colon + 1);
  if (kind == "binary") {
    if (arg.empty()) return MaskEncoding::binary();
    int t = 0;
    if (!parse_int(arg, t) || t < 0 || t > 254)
      throw std::invalid_argument("mask spec '" + spec + "': the binary threshold must be an integer in 0..254");
    return MaskEncoding::binary(t);
  }
  if (kind == "index" && arg.empty()) return MaskEncoding::index();
  if (kind == "palette" && !arg.empty()) return MaskEncoding::from_palette(load_palette(arg), arg);
  throw std::invalid_argument("mask spec '" + spec +
                              "' is not one of: binary, binary:THRESHOLD, index, palette:FILE (.json or .csv)");
}

std::vector<PaletteEntry> load_palette(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw DataError(file, "palette file cannot be opened");
  std::vector<PaletteEntry> palette =
      file.extension() == ".json" ? load_json_palette(file, in) : load_csv_palette(file, in);
  if (palette.empty()) throw DataError(file, "palette file holds no colours");
  std::unordered_map<uint64_t, int> seen;
  for (const PaletteEntry& e : palette) {
    if (!seen.emplace(pack(e.rgb[0], e.rgb[1], e.rgb[2]), e.class_id).second)
      throw DataError(file, "palette colour (" + std::to_string(e.rgb[0]) + ", " + std::to_string(e.rgb[1]) + ", " +
                                std::to_string(e.rgb[2]) + ") appears twice");
  }
  return palette;
}

std::vector<std::string> palette_class_names(const std::vector<PaletteEntry>& palette, int num_classes) {
  std::vector<std::string> names(static_cast<size_t>(std::max(num_classes, 0)));
  bool any = false;
  for (const PaletteEntry& e : palette)
    if (e.class_id >= 0 && e.class_id < num_classes && !e.name.empty()) {
      names[static_cast<size_t>(e.class_id)] = e.name;
      any = true;
    }
  return any ? names : std::vector<std::string>{};
}

std::string describe(const MaskEncoding& e) {
  switch (e.kind) {
    case MaskEncoding::Kind::Binary: return "binary (threshold " + std::to_string(e.threshold) + ")";
    case MaskEncoding::Kind::Index: return "class index";
    case MaskEncoding::Kind::Palette:
      return "palette of " + std::to_string(e.palette.size()) + " colours" +
             (e.palette_file.empty() ? "" : " from '" + e.palette_file.string() + "'");
  }
  return "?";
}

std::vector<float> decode_mask(const RawImage& mask, const MaskEncoding& encoding, const MaskRules& rules,
                               const std::filesystem::path& file) {
  const int H = mask.height, W = mask.width, C = mask.channels;
  const bool colour = C >= 3;  // an alpha channel (C == 2 or 4) never carries a class
  const bool palette = encoding.kind == MaskEncoding::Kind::Palette;
  std::vector<float> ids(static_cast<size_t>(H) * W);

  std::unordered_map<uint64_t, int> lookup;
  for (const PaletteEntry& e : encoding.palette) {
    if ((e.class_id < 0 || e.class_id >= rules.num_classes) && e.class_id != rules.ignore_index)
      throw DataError(encoding.palette_file, "palette maps a colour to class " + std::to_string(e.class_id) +
                                                 ", outside [0, " + std::to_string(rules.num_classes) +
                                                 ") and not the ignore index");
    lookup.emplace(pack(e.rgb[0], e.rgb[1], e.rgb[2]), e.class_id);
  }
  // 16-bit masks compare against the threshold, the ignore value and the palette on the same 0..255 scale as 8-bit
  // ones: an 8-bit value c is stored as c * 257 in 16 bits.
  const double threshold = encoding.threshold * (mask.max_value / 255.0);
  const int64_t scale = mask.max_value / 255;

  for (int y = 0; y < H; ++y) {
    for (int x = 0; x < W; ++x) {
      const int64_t r = static_cast<int64_t>(mask.at(y, x, 0));
      const int64_t g = colour ? static_cast<int64_t>(mask.at(y, x, 1)) : r;
      const int64_t b = colour ? static_cast<int64_t>(mask.at(y, x, 2)) : r;
      float& out = ids[static_cast<size_t>(y) * W + x];
      if (palette) {
        const bool widened = r % scale == 0 && g % scale == 0 && b % scale == 0;
        const auto it = widened ? lookup.find(pack(r / scale, g / scale, b / scale)) : lookup.end();
        if (it == lookup.end())
          throw DataError(file, "pixel " + pixel_str(x, y) + " has colour (" + std::to_string(r) + ", " +
                                    std::to_string(g) + ", " + std::to_string(b) + "), which is not in the " +
                                    describe(encoding) + "; add it to the palette");
        out = static_cast<float>(it->second);
        continue;
      }
      if (r != g || r != b)
        throw DataError(file, "is a colour mask (pixel " + pixel_str(x, y) + " = (" + std::to_string(r) + ", " +
                                  std::to_string(g) + ", " + std::to_string(b) + ")), but " + describe(encoding) +
                                  " masks need one grey value per pixel: save the masks as greyscale or read them with "
                                  "FolderOptions::mask = MaskEncoding::from_palette(...)");
      if (encoding.kind == MaskEncoding::Kind::Binary) {
        // The ignore value marks void pixels, whichever side of the threshold it lies on.
        const bool ignored = rules.ignore_index >= 0 && r == rules.ignore_index * scale;
        out = ignored ? static_cast<float>(rules.ignore_index) : r > threshold ? 1.0f : 0.0f;
      } else if (r == rules.ignore_index || r < rules.num_classes) {
        out = static_cast<float>(r);
      } else {
        throw DataError(file, "pixel " + pixel_str(x, y) + " has value " + std::to_string(r) + ", outside the " +
                                  std::to_string(rules.num_classes) + " classes [0, " +
                                  std::to_string(rules.num_classes) + ")" +
                                  (rules.ignore_index >= 0
                                       ? " and not the ignore index " + std::to_string(rules.ignore_index)
                                       : std::string()) +
                                  "; set FolderOptions::num_classes, FolderOptions::ignore_index, or "
                                  "FolderOptions::mask = MaskEncoding::binary() for 0/255 masks");
      }
    }
  }
  return ids;
}

}  // namespace tg::data
