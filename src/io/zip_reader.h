// Reads the central directory of an in-memory zip archive as torch.save writes it: stored
// (uncompressed) entries, ZIP64 records when the archive passes 4 GB. Entry data is located in
// place, never copied.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bge/status.h"

namespace bge::io {

struct ZipEntry {
    std::string name;
    uint16_t flags = 0;
    uint16_t method = 0;  // 0 = stored, 8 = deflate
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint64_t local_header_offset = 0;
};

class ZipReader {
 public:
    // Parses the central directory of `bytes` (which must outlive the reader). Malformed archives
    // are kDataLoss naming the record and its offset.
    static StatusOr<ZipReader> open(std::span<const uint8_t> bytes);

    const std::vector<ZipEntry>& entries() const { return entries_; }
    // nullptr when there is no entry of that name.
    const ZipEntry* find(std::string_view name) const;
    // The bytes of a stored entry, in place. Checks its local header and bounds; compressed or
    // encrypted entries are kUnimplemented.
    StatusOr<std::span<const uint8_t>> stored_data(const ZipEntry& entry) const;

 private:
    std::span<const uint8_t> bytes_;
    std::vector<ZipEntry> entries_;
    std::map<std::string, size_t, std::less<>> by_name_;
};

}  // namespace bge::io
