#include "io/zip_reader.h"

#include <cstring>

#include "io/le_bytes.h"

namespace bge::io {

namespace {

// Record signatures and fixed sizes from PKWARE's APPNOTE.TXT (sections 4.3.7 - 4.3.16).
constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kLocalSize = 30;
constexpr size_t kCentralSize = 46;
constexpr size_t kEocdSize = 22;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kMaxCommentSize = 0xFFFF;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kSaturated32 = 0xFFFFFFFF;

std::string at(uint64_t offset) {
    return " at byte " + std::to_string(offset);
}

struct Directory {
    uint64_t n_entries = 0;
    uint64_t offset = 0;
    uint64_t size = 0;
};

// The end of central directory record sits in the last 22 + 65535 bytes (it ends with a comment).
StatusOr<size_t> find_eocd(std::span<const uint8_t> bytes) {
    if (bytes.size() < kEocdSize) {
        return data_loss("not a zip archive: " + std::to_string(bytes.size()) + " bytes is too small");
    }
    size_t last = bytes.size() - kEocdSize;
    size_t lowest = last > kMaxCommentSize ? last - kMaxCommentSize : 0;
    for (size_t pos = last + 1; pos-- > lowest;) {
        const uint8_t* e = bytes.data() + pos;
        if (load_le32(e) == kEocdSig && pos + kEocdSize + load_le16(e + 20) <= bytes.size()) return pos;
    }
    return data_loss("not a zip archive: no end of central directory record");
}

StatusOr<Directory> read_directory(std::span<const uint8_t> bytes, size_t eocd) {
    const uint8_t* p = bytes.data();
    const uint8_t* e = p + eocd;
    if (load_le16(e + 4) != 0 || load_le16(e + 6) != 0) {
        return unimplemented("multi-disk zip archives are not supported");
    }
    Directory d{load_le16(e + 10), load_le32(e + 16), load_le32(e + 12)};
    if (eocd >= kZip64LocatorSize && load_le32(e - kZip64LocatorSize) == kZip64LocatorSig) {
        uint64_t rec = load_le64(e - kZip64LocatorSize + 8);
        if (rec > bytes.size() || bytes.size() - rec < kZip64EocdSize || load_le32(p + rec) != kZip64EocdSig) {
            return data_loss("no ZIP64 end of central directory record" + at(rec));
        }
        const uint8_t* z = p + rec;
        if (load_le32(z + 16) != 0 || load_le32(z + 20) != 0) {
            return unimplemented("multi-disk zip archives are not supported");
        }
        d = {load_le64(z + 32), load_le64(z + 48), load_le64(z + 40)};
    } else if (d.n_entries == 0xFFFF || d.offset == kSaturated32 || d.size == kSaturated32) {
        return data_loss("end of central directory needs ZIP64 values but has no ZIP64 locator" + at(eocd));
    }
    if (d.offset > bytes.size() || d.size > bytes.size() - d.offset) {
        return data_loss("central directory [" + std::to_string(d.offset) + ", +" + std::to_string(d.size) +
                         ") lies outside the file of " + std::to_string(bytes.size()) + " bytes");
    }
    if (d.n_entries > d.size / kCentralSize) {
        return data_loss("central directory claims " + std::to_string(d.n_entries) + " entries in " +
                         std::to_string(d.size) + " bytes");
    }
    return d;
}

// 32-bit fields set to 0xFFFFFFFF are stored in the ZIP64 extra field, in this order (APPNOTE 4.5.3).
Status apply_zip64_extra(const uint8_t* extra, size_t len, ZipEntry& entry) {
    uint64_t* fields[] = {&entry.size, &entry.compressed_size, &entry.local_header_offset};
    bool needed = false;
    for (uint64_t* f : fields) needed = needed || *f == kSaturated32;
    if (!needed) return ok_status();
    for (size_t q = 0; q + 4 <= len;) {
        uint16_t id = load_le16(extra + q);
        size_t n = load_le16(extra + q + 2);
        if (n > len - q - 4) return data_loss("entry '" + entry.name + "': extra field runs past its end");
        if (id == kZip64ExtraId) {
            size_t r = q + 4;
            for (uint64_t* f : fields) {
                if (*f != kSaturated32) continue;
                if (q + 4 + n - r < 8) return data_loss("entry '" + entry.name + "': ZIP64 extra field is too short");
                *f = load_le64(extra + r);
                r += 8;
            }
            return ok_status();
        }
        q += 4 + n;
    }
    return data_loss("entry '" + entry.name + "' needs 64-bit sizes but has no ZIP64 extra field");
}

}  // namespace

StatusOr<ZipReader> ZipReader::open(std::span<const uint8_t> bytes) {
    BGE_ASSIGN_OR_RETURN(size_t eocd, find_eocd(bytes));
    BGE_ASSIGN_OR_RETURN(Directory dir, read_directory(bytes, eocd));
    ZipReader zip;
    zip.bytes_ = bytes;
    zip.entries_.reserve(dir.n_entries);
    const uint8_t* p = bytes.data();
    uint64_t pos = dir.offset;
    uint64_t end = dir.offset + dir.size;
    for (uint64_t i = 0; i < dir.n_entries; ++i) {
        if (end - pos < kCentralSize || load_le32(p + pos) != kCentralSig) {
            return data_loss("central directory entry " + std::to_string(i) + ": bad header" + at(pos));
        }
        const uint8_t* c = p + pos;
        size_t name_len = load_le16(c + 28);
        size_t extra_len = load_le16(c + 30);
        size_t comment_len = load_le16(c + 32);
        size_t record = kCentralSize + name_len + extra_len + comment_len;
        if (end - pos < record) {
            return data_loss("central directory entry " + std::to_string(i) + " runs past the directory" + at(pos));
        }
        ZipEntry entry;
        entry.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
        entry.flags = load_le16(c + 8);
        entry.method = load_le16(c + 10);
        entry.compressed_size = load_le32(c + 20);
        entry.size = load_le32(c + 24);
        entry.local_header_offset = load_le32(c + 42);
        BGE_RETURN_IF_ERROR(apply_zip64_extra(c + kCentralSize + name_len, extra_len, entry));
        if (!zip.by_name_.emplace(entry.name, zip.entries_.size()).second) {
            return data_loss("duplicate entry name '" + entry.name + "'" + at(pos));
        }
        zip.entries_.push_back(std::move(entry));
        pos += record;
    }
    return zip;
}

const ZipEntry* ZipReader::find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &entries_[it->second];
}

StatusOr<std::span<const uint8_t>> ZipReader::stored_data(const ZipEntry& entry) const {
    const std::string what = "entry '" + entry.name + "'";
    if (entry.flags & 1) return unimplemented(what + " is encrypted");
    if (entry.method != 0) {
        return unimplemented(
            what + " is compressed (method " + std::to_string(entry.method) +
            "); torch.save writes stored entries: re-save it with torch.save or convert to safetensors");
    }
    if (entry.compressed_size != entry.size) {
        return data_loss(what + " is stored but its sizes differ (" + std::to_string(entry.compressed_size) + " vs " +
                         std::to_string(entry.size) + ")");
    }
    uint64_t lho = entry.local_header_offset;
    if (lho > bytes_.size() || bytes_.size() - lho < kLocalSize || load_le32(bytes_.data() + lho) != kLocalSig) {
        return data_loss(what + ": no local header" + at(lho));
    }
    const uint8_t* l = bytes_.data() + lho;
    size_t name_len = load_le16(l + 26);
    size_t extra_len = load_le16(l + 28);
    // The local extra field differs from the central one: torch pads it to align the data to 64 bytes.
    uint64_t data_offset = lho + kLocalSize + name_len + extra_len;
    if (data_offset > bytes_.size()) return data_loss(what + ": local header" + at(lho) + " runs past the file");
    if (name_len != entry.name.size() || std::memcmp(l + kLocalSize, entry.name.data(), name_len) != 0) {
        return data_loss(what + ": local header" + at(lho) + " names a different entry");
    }
    if (bytes_.size() - data_offset < entry.size) {
        return data_loss(what + ": data [" + std::to_string(data_offset) + ", +" + std::to_string(entry.size) +
                         ") runs past the end of the file (" + std::to_string(bytes_.size()) + " bytes)");
    }
    return std::span<const uint8_t>(bytes_.data() + data_offset, entry.size);
}

}  // namespace bge::io
