// Helpers shared by the test binaries: temporary directories and small datasets.
#pragma once

#include <filesystem>
#include <string>

#include "avgzsl/data/dataset.h"
#include "avgzsl/io/safetensors.h"
#include "avgzsl/training/train_config.h"
#include "temp_dir.h"

namespace avgzsl::testing {

// A small valid dataset with the synthetic generator's geometry and few videos.
data::Dataset tiny_dataset(uint64_t seed = 0);

// A ClipClap configuration for tiny_dataset() at `data` that trains in a second: 2 epochs of 4
// batches of 16, hidden width 16, embedding 8.
training::TrainConfig tiny_train_config(const std::filesystem::path& data);

// Where tests/fixtures lives (set by CMake).
std::filesystem::path fixture_dir();

// A Hugging Face CLIP directory with a tiny random model (seeded) and a byte-level tokenizer of
// 514 tokens (256 bytes, the same with "</w>", start and end; no merges): config.json,
// model.safetensors, vocab.json, merges.txt. Image size 32, embedding size 16.
void write_tiny_clip_dir(const std::filesystem::path& dir, uint64_t seed = 0);

// What torch.save({"model": state_dict, "epoch": 3}, path) writes, as WavCaps releases
// HTSAT_BERT_zero_shot.pt: the zip layout, archive/data.pkl with the tensors as persistent
// storage ids, archive/data/<key> holding their bytes.
void save_torch_checkpoint(const std::filesystem::path& path, const io::NamedTensors& tensors);

// Runs `command` through the shell; true when it exits with 0.
bool run_shell(const std::string& command);
// Whether Debian's ffmpeg command-line tool is on the PATH (tests that make videos skip without it).
bool have_ffmpeg();
// A test video made by ffmpeg: `seconds` of a flat `colour` at size w x h, 10 fps, mpeg4 in
// .mp4, with a 440 Hz tone unless `with_audio` is false. Throws when ffmpeg fails.
void make_test_video(const std::filesystem::path& path, const std::string& colour, double seconds = 1.0,
                     int width = 48, int height = 32, bool with_audio = true);

}  // namespace avgzsl::testing
