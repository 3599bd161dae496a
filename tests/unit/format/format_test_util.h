// Helpers for the format tests: a temporary directory that cleans up after itself, byte builders for
// hand-made files, and ways to find and patch fields inside a written file.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace tessera::format::testing {

// A fresh directory under the system temp directory, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("tessera-format-test-" + std::to_string(::getpid()) + "-" +
                                                      std::to_string(counter++) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline void write_file(const std::string& path, const void* data, size_t n) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}
inline void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file(path, bytes.data(), bytes.size());
}
inline void write_file(const std::string& path, std::string_view text) { write_file(path, text.data(), text.size()); }

inline std::vector<uint8_t> random_bytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Appends little-endian fields, for files built by hand rather than by the writer under test.
class Bytes {
 public:
  template <typename T>
  Bytes& put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    data_.insert(data_.end(), b, b + sizeof(T));
    return *this;
  }
  Bytes& u8(uint8_t v) { return put(v); }
  Bytes& u32(uint32_t v) { return put(v); }
  Bytes& u64(uint64_t v) { return put(v); }
  Bytes& str(std::string_view s) {
    u64(s.size());
    data_.insert(data_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& raw(std::string_view s) {
    data_.insert(data_.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& raw(const std::vector<uint8_t>& b) {
    data_.insert(data_.end(), b.begin(), b.end());
    return *this;
  }
  Bytes& pad_to(size_t align) {
    while (data_.size() % align) data_.push_back(0);
    return *this;
  }
  size_t size() const { return data_.size(); }
  const std::vector<uint8_t>& bytes() const { return data_; }

 private:
  std::vector<uint8_t> data_;
};

template <typename T>
void patch(std::vector<uint8_t>& bytes, size_t offset, T v) {
  ASSERT_LE(offset + sizeof(T), bytes.size());
  std::memcpy(bytes.data() + offset, &v, sizeof(T));
}

// Offset of the first occurrence of a GGUF string (u64 length, then the bytes) whose text is `s`, or npos.
inline size_t find_gguf_string(const std::vector<uint8_t>& bytes, std::string_view s) {
  Bytes needle;
  needle.str(s);
  auto it = std::search(bytes.begin(), bytes.end(), needle.bytes().begin(), needle.bytes().end());
  return it == bytes.end() ? std::string::npos : static_cast<size_t>(it - bytes.begin());
}

// Where the fields of a GGUF tensor info are, found through its name.
struct TensorInfoAt {
  size_t n_dims;  // u32
  size_t ne;      // u64[n_dims]
  size_t type;    // u32
  size_t offset;  // u64
};

inline TensorInfoAt find_tensor_info(const std::vector<uint8_t>& bytes, std::string_view name) {
  size_t at = find_gguf_string(bytes, name);
  EXPECT_NE(at, std::string::npos) << "tensor " << name << " not in the file";
  TensorInfoAt t{};
  t.n_dims = at + 8 + name.size();
  uint32_t n_dims;
  std::memcpy(&n_dims, bytes.data() + t.n_dims, 4);
  t.ne = t.n_dims + 4;
  t.type = t.ne + 8 * n_dims;
  t.offset = t.type + 4;
  return t;
}

}  // namespace tessera::format::testing
