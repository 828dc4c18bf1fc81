// `avgzsl extract`: videos in, CLIP (and CLAP) features and class-text embeddings out.
//
// Decoder threads open videos, seek to the frames needed, preprocess them and decode the audio
// track at the CLAP model's rate; a bounded queue hands them to the encoders, which embeds them in batches and appends finished videos to the
// feature store in chunks (feature_store.h). Killed and restarted with the same command, the job
// continues where it stopped. An unsharded job then assembles the native dataset; a sharded job
// (--shard K/N) leaves its store for `avgzsl merge`.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <functional>
#include <string>

#include "avgzsl/extraction/feature_store.h"
#include "avgzsl/encoders/video_features.h"
#include "avgzsl/extraction/video_list.h"
#include "avgzsl/util/text.h"

namespace avgzsl::extraction {

struct ExtractOptions {
  std::filesystem::path videos;    // folder of class folders, or CSV path,label
  std::filesystem::path clip_dir;  // Hugging Face CLIP directory
  std::filesystem::path clap_dir;  // CLAP folder or WavCaps checkpoint; empty: visual features only
  std::filesystem::path out;       // the dataset (unsharded) or the shard's feature store
  std::filesystem::path splits;    // split folder (split_plan.h); empty: automatic
  std::filesystem::path class_names;  // optional CSV name,display_name
  std::string templates = "ucf";   // built-in set or file (class_text.h), CLIP's prompts
  std::string audio_templates;     // CLAP's prompts; empty: the audio prompts of `templates` when
                                   // it names a built-in set, else `templates` itself
  encoders::MissingAudio missing_audio = encoders::MissingAudio::kSkip;  // with CLAP: videos without an audio track
  ShardSpec shard;
  int frames = 1;                  // evenly spaced frames per video, embeddings averaged
  encoders::FramePixels pixels = encoders::FramePixels::kStandard;
  int decoders = 1;                // decoding threads
  int64_t batch_size = 32;         // frames per encoder call
  int64_t chunk_size = 256;        // videos per chunk file (at most this many are redone after a kill)
  double chunk_seconds = 60;       // ... and a chunk is written at least this often
  bool restart = false;            // discard an existing store of this output first
  bool replace = false;            // replace an existing dataset at `out`
  bool keep_store = false;         // keep the store of an unsharded job after assembly
  torch::Device device = torch::kCPU;
};

struct ExtractSummary {
  int64_t listed = 0;           // videos in the whole list
  int64_t in_shard = 0;
  int64_t done_before = 0;      // found done in the store at start
  int64_t extracted = 0;        // in this run
  int64_t failed = 0;           // in this run
  double seconds = 0;
  std::filesystem::path store;
  bool assembled = false;       // the dataset was written (unsharded jobs)
  AssemblyReport report;
};

// `print` receives one line per event worth logging (start, resume, failures, the end).
ExtractSummary run_extraction(const ExtractOptions& options, const util::LineSink& print);

// Where an unsharded job keeps its store: "<out>.store".
std::filesystem::path store_path_for(const ExtractOptions& options);

}  // namespace avgzsl::extraction
