// .keras archives through Debian's libzip.
#include <zip.h>

#include <algorithm>
#include <memory>
#include <stdexcept>

#include "interop/keras_source.h"

namespace tg::interop {

namespace {
struct ZipCloser {
  void operator()(zip_t* z) const { zip_discard(z); }  // read-only: nothing to write back
};
struct ZipFileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using Zip = std::unique_ptr<zip_t, ZipCloser>;

Zip open_zip(const std::filesystem::path& archive) {
  int error = 0;
  Zip zip(zip_open(archive.c_str(), ZIP_RDONLY, &error));
  if (!zip) {
    zip_error_t e;
    zip_error_init_with_code(&e, error);
    const std::string why = zip_error_strerror(&e);
    zip_error_fini(&e);
    throw std::runtime_error(archive.string() + ": cannot be read as a zip archive (.keras): " + why);
  }
  return zip;
}
}  // namespace

bool zip_has_member(const std::filesystem::path& archive, const std::string& member) {
  Zip zip = open_zip(archive);
  return zip_name_locate(zip.get(), member.c_str(), 0) >= 0;
}

std::string read_zip_member(const std::filesystem::path& archive, const std::string& member, size_t max_bytes) {
  Zip zip = open_zip(archive);
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat(zip.get(), member.c_str(), 0, &stat) != 0)
    throw std::runtime_error(archive.string() + ": the archive has no " + member + ", which a .keras file holds");
  if (!(stat.valid & ZIP_STAT_SIZE) || !(stat.valid & ZIP_STAT_COMP_SIZE) || stat.size > max_bytes)
    throw std::runtime_error(archive.string() + ": " + member + " is larger than " + std::to_string(max_bytes) +
                             " bytes, more than a .keras file's " + member + " can plausibly be");
  // The size is the archive's claim: allocate for it only when the stored bytes can hold it (deflate packs at most
  // about 1032 to 1; Keras stores its members uncompressed).
  if (stat.size > std::max<zip_uint64_t>(zip_uint64_t(1) << 20, stat.comp_size * 1100))
    throw std::runtime_error(archive.string() + ": " + member + " claims " + std::to_string(stat.size) +
                             " bytes, more than its " + std::to_string(stat.comp_size) +
                             " stored bytes can unpack to; the archive is damaged");
  std::unique_ptr<zip_file_t, ZipFileCloser> file(zip_fopen(zip.get(), member.c_str(), 0));
  if (!file) throw std::runtime_error(archive.string() + ": " + member + " cannot be opened in the archive");
  std::string bytes(static_cast<size_t>(stat.size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const zip_int64_t n = zip_fread(file.get(), bytes.data() + done, bytes.size() - done);
    if (n <= 0) throw std::runtime_error(archive.string() + ": " + member + " is truncated or corrupt in the archive");
    done += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace tg::interop
