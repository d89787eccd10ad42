#include "tokenizer/spm_model_proto.h"

#include <cstring>
#include <optional>

namespace bge {
namespace {

// ModelProto, TrainerSpec, NormalizerSpec and SentencePiece field numbers (sentencepiece_model.proto).
constexpr uint32_t kModelPieces = 1;
constexpr uint32_t kModelTrainerSpec = 2;
constexpr uint32_t kModelNormalizerSpec = 3;
constexpr uint32_t kTrainerModelType = 3;
constexpr uint32_t kNormalizerCharsmap = 2;
constexpr uint32_t kPiecePiece = 1;
constexpr uint32_t kPieceScore = 2;
constexpr uint32_t kPieceType = 3;

enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// One field of a message: its number and either a varint value or a length-delimited payload.
struct Field {
    uint32_t number = 0;
    WireType wire = kVarint;
    uint64_t varint = 0;
    std::string_view bytes;
};

class WireReader {
 public:
    explicit WireReader(std::string_view data) : data_(data) {}

    [[nodiscard]] bool done() const { return pos_ >= data_.size(); }

    // The next field, or nullopt when the bytes are not valid wire format.
    std::optional<Field> next() {
        const std::optional<uint64_t> key = varint();
        if (!key || (*key >> 3) == 0 || (*key >> 3) > UINT32_MAX) return std::nullopt;
        Field f;
        f.number = static_cast<uint32_t>(*key >> 3);
        f.wire = static_cast<WireType>(*key & 7);
        switch (f.wire) {
            case kVarint: {
                const std::optional<uint64_t> v = varint();
                if (!v) return std::nullopt;
                f.varint = *v;
                return f;
            }
            case kFixed64:
                return skip(8) ? std::optional<Field>(f) : std::nullopt;
            case kFixed32: {
                if (4 > data_.size() - pos_) return std::nullopt;
                const auto* b = reinterpret_cast<const uint8_t*>(data_.data() + pos_);
                f.varint = b[0] | b[1] << 8 | b[2] << 16 | static_cast<uint32_t>(b[3]) << 24;
                pos_ += 4;
                return f;
            }
            case kLengthDelimited: {
                const std::optional<uint64_t> n = varint();
                if (!n || *n > data_.size() - pos_) return std::nullopt;
                f.bytes = data_.substr(pos_, *n);
                pos_ += *n;
                return f;
            }
        }
        return std::nullopt;  // groups (3, 4) and undefined wire types
    }

 private:
    std::optional<uint64_t> varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64 && pos_ < data_.size(); shift += 7) {
            const auto b = static_cast<uint8_t>(data_[pos_++]);
            v |= static_cast<uint64_t>(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
        return std::nullopt;
    }

    bool skip(size_t n) {
        if (n > data_.size() - pos_) return false;
        pos_ += n;
        return true;
    }

    std::string_view data_;
    size_t pos_ = 0;
};

// Calls `on_field` for every field of `message`; false when the message is malformed.
template <typename OnField>
bool for_each_field(std::string_view message, OnField on_field) {
    WireReader reader(message);
    while (!reader.done()) {
        const std::optional<Field> f = reader.next();
        if (!f || !on_field(*f)) return false;
    }
    return true;
}

}  // namespace

StatusOr<SpmModelFields> parse_spm_model_fields(std::string_view serialized) {
    SpmModelFields out;
    // Scalars keep the last value seen, as protobuf parsing does; repeated embedded messages append.
    const bool ok = for_each_field(serialized, [&](const Field& f) {
        if (f.number == kModelPieces && f.wire == kLengthDelimited) {
            SpmPieceType type = SpmPieceType::kNormal;
            std::string_view piece;
            float score = 0;
            const bool piece_ok = for_each_field(f.bytes, [&](const Field& pf) {
                if (pf.number == kPieceType && pf.wire == kVarint) type = static_cast<SpmPieceType>(pf.varint);
                if (pf.number == kPiecePiece && pf.wire == kLengthDelimited) piece = pf.bytes;
                if (pf.number == kPieceScore && pf.wire == kFixed32) {
                    const auto bits = static_cast<uint32_t>(pf.varint);
                    std::memcpy(&score, &bits, sizeof score);
                }
                return true;
            });
            out.piece_types.push_back(type);
            out.pieces.push_back(piece);
            out.scores.push_back(score);
            return piece_ok;
        }
        if (f.number == kModelTrainerSpec && f.wire == kLengthDelimited) {
            return for_each_field(f.bytes, [&](const Field& tf) {
                if (tf.number == kTrainerModelType && tf.wire == kVarint) {
                    out.model_type = static_cast<SpmModelType>(tf.varint);
                }
                return true;
            });
        }
        if (f.number == kModelNormalizerSpec && f.wire == kLengthDelimited) {
            return for_each_field(f.bytes, [&](const Field& nf) {
                if (nf.number == kNormalizerCharsmap && nf.wire == kLengthDelimited) {
                    out.precompiled_charsmap.assign(nf.bytes);
                }
                return true;
            });
        }
        return true;
    });
    if (!ok) return data_loss("malformed protobuf in the SentencePiece model");
    return out;
}

}  // namespace bge
