// Class-text embeddings by prompt ensembling (METHOD §2): every template filled with the class
// name, each prompt embedded and L2-normalised, the mean re-normalised.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace avgzsl::encoders {

struct PromptTemplates {
  std::string source;                  // "builtin:ucf/clip" or the file's path
  std::vector<std::string> templates;  // each holds "{}" where the class name goes
};

// The reference's template sets, shipped in resources/prompt_templates/ and compiled in:
// set "ucf", "activitynet" or "vggsound"; encoder "clip" (visual prompts) or "clap" (audio).
PromptTemplates builtin_prompt_templates(const std::string& set, const std::string& encoder);
std::vector<std::string> builtin_template_sets();

// A text file, one template per line; blank lines and lines starting with '#' are skipped.
// Throws std::runtime_error naming the file and line when a template lacks "{}" or the file
// holds none.
PromptTemplates read_prompt_templates(const std::filesystem::path& file);

// "ucf" / "activitynet" / "vggsound" (a built-in set) or a file path.
PromptTemplates resolve_prompt_templates(const std::string& file_or_builtin, const std::string& encoder);
// CLAP's prompts: `audio_templates` when given, else the audio prompts of `templates`' set.
PromptTemplates resolve_audio_prompt_templates(const std::string& templates, const std::string& audio_templates);

// The template with its first "{}" replaced by `name` (Python's str.format with one argument).
std::string fill_template(const std::string& template_text, const std::string& name);

// Embeds texts: [T] strings -> [T, E] float32.
using TextEncoder = std::function<torch::Tensor(const std::vector<std::string>&)>;

// [C, E]: for each name, encode every filled template (in batches of at most `batch_size`
// prompts), L2-normalise each prompt's embedding when `normalise_each_prompt` (CLIP; WavCaps'
// encoder already returns unit vectors), average, re-normalise.
torch::Tensor ensemble_class_embeddings(const std::vector<std::string>& names, const PromptTemplates& templates,
                                        const TextEncoder& encode, bool normalise_each_prompt = true,
                                        int64_t batch_size = 256);

// A class folder name as words for the text encoders: "ApplyEyeMakeup" -> "apply eye makeup",
// "playing_guitar" -> "playing guitar", "YoYo" -> "yo yo".
std::string display_name_from_folder(const std::string& folder);

}  // namespace avgzsl::encoders
