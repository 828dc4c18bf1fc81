// `extract`, `merge` and `embed-classes`: from raw videos and class names to a native dataset.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/cuda.h>

#include <fstream>
#include <memory>

#include "avgzsl/encoders/video_features.h"
#include "avgzsl/extraction/class_embeddings.h"
#include "avgzsl/extraction/feature_extraction.h"
#include "avgzsl/data/class_names.h"
#include "avgzsl/util/threads.h"
#include "commands.h"
#include "print_line.h"

namespace avgzsl::cli {
namespace fs = std::filesystem;

torch::Device parse_device(const std::string& text) {
  try {
    const torch::Device device(text);
    if (device.is_cuda() && !torch::cuda::is_available()) {
      throw std::invalid_argument("--device " + text + ": this LibTorch build sees no CUDA device");
    }
    return device;
  } catch (const c10::Error&) {
    throw std::invalid_argument("--device: expected cpu or cuda[:N], got '" + text + "'");
  }
}

namespace {

void print_assembly(const fs::path& out, const extraction::AssemblyReport& r) {
  print_line(fmt::format("wrote {}: {} videos ({} failed or skipped, {} without audio, {} with silent audio, {} left out by "
                         "the split plan)",
                         out.string(), r.videos, r.failed, r.without_audio, r.silent_audio, r.left_out));
  for (const auto& [split, n] : r.per_split) print_line(fmt::format("  {:<20} {:>7} videos", split, n));
  if (r.failed) print_line("failures and their reasons: " + (out / "extract_report.json").string());
}

}  // namespace

void add_extract_command(CLI::App& app) {
  struct Args {
    extraction::ExtractOptions o;
    std::string shard = "1/1";
    std::string pixels = "standard";
    std::string missing_audio = "skip";
    std::string device = "cpu";
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("extract", "CLIP (and CLAP) features of raw videos and class-text embeddings -> native dataset");
  c->add_option("--videos", args->o.videos, "folder with one sub-folder per class, or a CSV with columns path,label")->required();
  c->add_option("--clip", args->o.clip_dir, "Hugging Face CLIP model directory (e.g. openai/clip-vit-base-patch32)")->required();
  c->add_option("--clap", args->o.clap_dir,
                "CLAP model: Hugging Face folder (laion/clap-htsat-*) or WavCaps checkpoint folder/.pt; adds audio features "
                "and CLAP class text");
  c->add_option("--out", args->o.out, "dataset directory to write (with --shard: this shard's feature store)")->required();
  c->add_option("--splits", args->o.splits,
                "split folder: <class split>.txt class lists, optional <video split>.csv video lists "
                "(default: an automatic split, see docs/extraction.md)");
  c->add_option("--class-names", args->o.class_names, "CSV name,display_name: the words the text encoder sees per class");
  c->add_option("--templates", args->o.templates, "prompt templates: ucf (default), activitynet, vggsound or a file");
  c->add_option("--audio-templates", args->o.audio_templates,
                "CLAP prompt templates (default: the audio prompts of the --templates set)");
  c->add_option("--missing-audio", args->missing_audio,
                "with --clap, a video without an audio track is: skip (left out and reported, default) or zero (kept, "
                "zero audio features)");
  c->add_option("--frames", args->o.frames, "evenly spaced frames per video, embeddings averaged (default 1: the middle frame)");
  c->add_option("--frame-pixels", args->pixels,
                "standard (RGB, default) or reference (the reference script's BGR, wrapped levels; reproduces its features)");
  c->add_option("--shard", args->shard, "K/N: extract only shard K of N (a stable 1/N of the videos); join with avgzsl merge");
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores (default 0)");
  c->add_option("--decoders", args->o.decoders, "video decoding threads (default 1)");
  c->add_option("--batch-size", args->o.batch_size, "frames per encoder call (default 32)");
  c->add_option("--chunk-size", args->o.chunk_size, "videos per chunk file: at most this many are redone after a kill (default 256)");
  c->add_option("--device", args->device, "cpu (default) or cuda[:N]");
  c->add_flag("--restart", args->o.restart, "discard the features of an earlier run of this output instead of resuming");
  c->add_flag("--force", args->o.replace, "replace an existing dataset directory");
  c->add_flag("--keep-store", args->o.keep_store, "keep <out>.store (the resumable chunks) after the dataset is written");
  c->callback([args] {
    util::configure_threads(args->threads);
    args->o.shard = extraction::parse_shard(args->shard);
    args->o.pixels = encoders::parse_frame_pixels(args->pixels);
    args->o.missing_audio = encoders::parse_missing_audio(args->missing_audio);
    args->o.device = parse_device(args->device);
    const extraction::ExtractSummary s = extraction::run_extraction(args->o, print_line);
    print_line(fmt::format("extracted {} videos in {:.1f} s ({:.2f} videos/s), {} failed", s.extracted, s.seconds,
                           s.seconds > 0 ? static_cast<double>(s.extracted) / s.seconds : 0.0, s.failed));
    if (s.assembled) {
      print_assembly(args->o.out, s.report);
    } else {
      print_line(fmt::format("shard {} complete in {}; join the shards with: avgzsl merge STORE... --out DATASET",
                             args->o.shard.text(), s.store.string()));
    }
  });
}

void add_merge_command(CLI::App& app) {
  struct Args {
    std::vector<fs::path> stores;
    fs::path splits;
    fs::path out;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("merge", "join the feature stores of the shards of one extract job into a native dataset");
  c->add_option("stores", args->stores, "the --out folders of every shard (K/N for K = 1..N)")->required();
  c->add_option("--splits", args->splits, "split folder, as for extract (default: the automatic split)");
  c->add_option("--out", args->out, "dataset directory to write")->required();
  c->add_flag("--force", args->force, "replace an existing dataset directory");
  c->callback([args] {
    print_assembly(args->out, extraction::merge_shards(args->stores, args->splits, args->out, args->force));
  });
}

void add_embed_classes_command(CLI::App& app) {
  struct Args {
    fs::path names;
    fs::path clip;
    fs::path clap;
    std::string templates = "ucf";
    std::string audio_templates;
    fs::path out;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("embed-classes", "class-text embeddings by prompt ensembling (METHOD §2)");
  c->add_option("--names", args->names, "text file, one class name (as the text encoder should read it) per line")->required();
  c->add_option("--clip", args->clip, "Hugging Face CLIP model directory (the visual half of the class vector)");
  c->add_option("--clap", args->clap, "CLAP model folder or WavCaps checkpoint (the audio half)");
  c->add_option("--templates", args->templates, "ucf (default), activitynet, vggsound (the reference's sets) or a file");
  c->add_option("--audio-templates", args->audio_templates, "CLAP prompts (default: the audio prompts of the --templates set)");
  c->add_option("--out", args->out,
                "output: .safetensors (tensors \"clip\" [C, E] and/or \"clap\" [C, E'], names in the metadata) or .npy "
                "(the reference's {name: vector} dict; one encoder at a time)")
      ->required();
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores (default 0)");
  c->callback([args] {
    util::configure_threads(args->threads);
    extraction::EmbedClassesOptions o;
    o.names = data::read_class_file(args->names);
    o.clip = args->clip;
    o.clap = args->clap;
    o.templates = args->templates;
    o.audio_templates = args->audio_templates;
    o.out = args->out;
    std::vector<std::string> described;
    for (const extraction::EmbeddedHalf& h : extraction::embed_classes(o)) {
      described.push_back(fmt::format("{}: {} classes x {} ({} templates from {})", h.key, h.classes, h.dim, h.templates,
                                      h.template_source));
    }
    print_line(fmt::format("wrote {}: {}", args->out.string(), fmt::join(described, "; ")));
  });
}

}  // namespace avgzsl::cli
