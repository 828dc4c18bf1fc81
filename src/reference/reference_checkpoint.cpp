#include "avgzsl/reference/reference_checkpoint.h"

#include <set>
#include <stdexcept>

#include "avgzsl/io/torch_archive.h"

namespace avgzsl::reference {

ReferenceCheckpoint read_reference_checkpoint(const std::filesystem::path& path) {
  const io::TorchArchive archive(path);
  const io::PickleDocument& doc = archive.document();
  const io::PyValue& root = doc.expect(doc.root(), io::PyKind::kDict, "the saved object");
  ReferenceCheckpoint checkpoint;
  // The reference saves {epoch, model, optimizer, metric}; a bare state_dict
  // (torch.save(model.state_dict())) is accepted too.
  checkpoint.state = archive.state_dict({"model"});
  if (const io::PyIndex* epoch = doc.find(root, "epoch")) {
    checkpoint.epoch = doc.expect(*epoch, io::PyKind::kInt, "'epoch'").integer;
  }
  if (const io::PyIndex* metric = doc.find(root, "metric"); metric && doc.at(*metric).kind == io::PyKind::kStr) {
    checkpoint.metric = std::string(doc.at(*metric).text);
  }
  return checkpoint;
}

gzsl::ClipClap clipclap_from_reference(const ReferenceCheckpoint& checkpoint, const gzsl::ClipClapOptions& options,
                                 const std::string& source, std::vector<std::string>* ignored) {
  gzsl::ClipClap model(options);
  std::set<std::string> ours;
  for (const auto& [name, tensor] : model->state_dict()) ours.insert(name);
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& [name, tensor] : checkpoint.state) {
    if (ours.count(name)) state.emplace_back(name, tensor);
    else if (ignored) ignored->push_back(name);
  }
  model->load_state_dict(state, source);
  model->eval();
  return model;
}

}  // namespace avgzsl::reference
