#include <string_view>

#include "io/file_magic.h"
#include "io/tensor_file.h"
#include "io/unpickler.h"
#include "io/zip_reader.h"

namespace bge::io {

namespace {

constexpr std::string_view kPickleName = "data.pkl";

// torch.save names every entry "<archive name>/...", where the archive name is usually the file
// stem ("pytorch_model") or "archive"; it is whatever precedes the one "<name>/data.pkl".
StatusOr<std::string> find_prefix(const ZipReader& zip) {
    std::string prefix;
    int found = 0;
    for (const ZipEntry& e : zip.entries()) {
        std::string_view name = e.name;
        if (!name.ends_with(kPickleName)) continue;
        std::string_view dir = name.substr(0, name.size() - kPickleName.size());
        if (!dir.empty() && (dir.back() != '/' || dir.find('/') != dir.size() - 1)) continue;
        prefix = dir;
        ++found;
    }
    if (found == 0) return data_loss("no <name>/data.pkl entry: not a torch.save checkpoint");
    if (found > 1) return data_loss("more than one <name>/data.pkl entry");
    return prefix;
}

}  // namespace

StatusOr<TensorMap> read_torch_checkpoint(std::shared_ptr<const MappedFile> file) {
    const std::string& path = file->path();
    if (!is_zip(file->data(), file->size())) {
        if (file->size() > 0 && file->data()[0] == 0x80) {
            return unimplemented(path +
                                 ": legacy (non-zip) PyTorch checkpoint is not supported; re-save it with "
                                 "torch.save(..., _use_new_zipfile_serialization=True) or convert to safetensors");
        }
        return data_loss(path + ": not a PyTorch checkpoint (no zip header)");
    }
    auto in_file = [&path](const Status& s) { return s.with_context(path); };
    StatusOr<ZipReader> zip = ZipReader::open({file->data(), file->size()});
    if (!zip.ok()) return in_file(zip.status());
    StatusOr<std::string> prefix = find_prefix(*zip);
    if (!prefix.ok()) return in_file(prefix.status());

    const std::string pickle_name = *prefix + std::string(kPickleName);
    StatusOr<std::span<const uint8_t>> pickle = zip->stored_data(*zip->find(pickle_name));
    if (!pickle.ok()) return in_file(pickle.status());
    StatusOr<std::vector<PickledTensor>> pickled = unpickle_state_dict(*pickle);
    if (!pickled.ok()) return pickled.status().with_context(path + ": " + pickle_name);

    TensorMap tensors;
    for (PickledTensor& t : *pickled) {
        const std::string what = path + ": tensor '" + t.name + "'";
        const std::string storage_name = *prefix + "data/" + t.storage_key;
        const ZipEntry* entry = zip->find(storage_name);
        if (entry == nullptr) return data_loss(what + ": storage entry '" + storage_name + "' is missing");
        StatusOr<std::span<const uint8_t>> storage = zip->stored_data(*entry);
        if (!storage.ok()) return storage.status().with_context(what);
        const size_t esize = dtype_size(t.dtype);
        // The unpickler checked offset + numel <= storage_numel; the entry must hold storage_numel elements.
        if (static_cast<uint64_t>(t.storage_numel) > storage->size() / esize) {
            return data_loss(what + ": storage '" + storage_name + "' has " + std::to_string(storage->size()) +
                             " bytes, the pickle declares " + std::to_string(t.storage_numel) + " elements of " +
                             dtype_name(t.dtype));
        }
        RawTensor raw;
        raw.dtype = t.dtype;
        raw.shape = std::move(t.shape);
        raw.data = storage->data() + static_cast<size_t>(t.storage_offset) * esize;
        raw.nbytes = static_cast<size_t>(raw.numel()) * esize;
        raw.file = file;
        tensors.emplace(std::move(t.name), std::move(raw));
    }
    return tensors;
}

}  // namespace bge::io
