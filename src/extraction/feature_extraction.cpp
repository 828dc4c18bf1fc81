#include "avgzsl/extraction/feature_extraction.h"
#include "avgzsl/util/text.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <thread>

#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/csv_table.h"
#include "avgzsl/media/video_decoder.h"
#include "avgzsl/encoders/class_text.h"
#include "avgzsl/encoders/clap/clap_encoder.h"
#include "avgzsl/encoders/clip/clip_encoder.h"
#include "avgzsl/util/bounded_queue.h"
#include "avgzsl/util/progress.h"
#include "avgzsl/util/option_error.h"

namespace avgzsl::extraction {
namespace fs = std::filesystem;
using nlohmann::json;

fs::path store_path_for(const ExtractOptions& options) {
  if (options.shard.count > 1) return options.out;
  fs::path store = options.out;
  store += ".store";
  return store;
}

namespace {

// One video after the decoder thread, and its place in the `todo` list.
struct QueuedVideo {
  int64_t position = 0;
  encoders::DecodedVideo video;
};

std::vector<data::ClassInfo> job_classes(const std::vector<VideoEntry>& videos, const fs::path& names_csv) {
  std::set<std::string> labels;
  for (const VideoEntry& v : videos) labels.insert(v.label);
  std::map<std::string, std::string> display;
  if (!names_csv.empty()) {
    const io::CsvTable table = io::read_csv(names_csv);
    const size_t name = table.column("name", names_csv.string());
    const size_t shown = table.column("display_name", names_csv.string());
    for (const auto& row : table.rows) display[row[name]] = row[shown];
    for (const std::string& label : labels) {
      if (!display.count(label)) throw std::runtime_error(names_csv.string() + ": no display_name for class '" + label + "'");
    }
  }
  std::vector<data::ClassInfo> classes;
  for (const std::string& label : labels) {
    const auto it = display.find(label);
    classes.push_back({label, it != display.end() ? it->second : encoders::display_name_from_folder(label)});
  }
  return classes;
}

json templates_json(const encoders::PromptTemplates& templates) {
  std::string text;
  for (const std::string& t : templates.templates) text += t + '\n';
  return {{"source", templates.source}, {"hash", util::stable_hash(text)}};
}

json job_description(const ExtractOptions& o, const std::vector<VideoEntry>& videos, const std::vector<data::ClassInfo>& classes,
                     const encoders::ClipEncoder& clip, const encoders::PromptTemplates& templates, const encoders::ClapEncoder* clap,
                     const encoders::PromptTemplates& audio_templates) {
  std::string list_text;
  for (const VideoEntry& v : videos) list_text += v.id + '\t' + v.label + '\n';
  json class_rows = json::array();
  for (const data::ClassInfo& c : classes) class_rows.push_back({{"name", c.name}, {"display_name", c.display_name}});
  fs::path source = fs::absolute(o.videos).lexically_normal();
  if (source.filename().empty()) source = source.parent_path();  // "UCF-101/"
  json job = {{"name", source.stem().string()},
              {"videos", source.string()},
              {"list", {{"count", videos.size()}, {"hash", util::stable_hash(list_text)}}},
              {"classes", class_rows},
              {"clip", clip.fingerprint()},
              {"frames", o.frames},
              {"frame_pixels", to_string(o.pixels)},
              {"templates", templates_json(templates)}};
  // Visual-only jobs keep the description they always had, so their stores still resume.
  if (clap) {
    job["clap"] = clap->fingerprint();
    job["audio_templates"] = templates_json(audio_templates);
    job["missing_audio"] = to_string(o.missing_audio);
  }
  return job;
}

// CLAP's prompts: the audio half of a built-in set, or the user's choice.

// Extracts the videos of `todo` into `store`: decoders -> bounded queue -> encoder -> chunks.
void extract_videos(const ExtractOptions& o, const std::vector<VideoEntry>& videos, const std::vector<int64_t>& todo,
                    const encoders::VideoEncoders& encoders, FeatureStore& store, ExtractSummary& summary,
                    const util::LineSink& print) {
  const int64_t videos_per_batch = std::max<int64_t>(1, o.batch_size / o.frames);
  util::BoundedQueue<QueuedVideo> queue(static_cast<size_t>(2 * videos_per_batch + o.decoders));
  std::atomic<int64_t> next{0};
  std::atomic<int> decoders_running{o.decoders};

  auto decode = [&](int64_t position) {
    QueuedVideo out{position, encoders::decode_for_encoders(videos[todo[position]].path, encoders)};
    if (out.video.error.empty() && encoders.clap && !out.video.audio && o.missing_audio == encoders::MissingAudio::kSkip) {
      out.video.error = videos[todo[position]].path.string() + ": no audio track (skipped: --missing-audio skip)";
    }
    return out;
  };
  std::vector<std::thread> decoders;
  for (int t = 0; t < o.decoders; ++t) {
    decoders.emplace_back([&] {
      for (int64_t p = next++; p < static_cast<int64_t>(todo.size()); p = next++) {
        if (!queue.push(decode(p))) break;
      }
      if (--decoders_running == 0) queue.producers_done();
    });
  }
  auto stop_decoders = [&] {
    queue.close();
    for (std::thread& t : decoders) {
      if (t.joinable()) t.join();
    }
  };

  try {
    util::Progress progress("extract", static_cast<int64_t>(todo.size()), "videos", util::stderr_is_terminal());
    std::vector<ExtractedVideo> pending;
    std::vector<torch::Tensor> pending_rows, pending_audio;
    std::vector<FailedVideo> pending_failures;
    auto last_flush = std::chrono::steady_clock::now();
    auto flush = [&] {
      store.write_chunk(pending, pending_rows.empty() ? torch::Tensor() : torch::cat(pending_rows),
                        pending_audio.empty() ? torch::Tensor() : torch::cat(pending_audio), pending_failures);
      pending.clear();
      pending_rows.clear();
      pending_audio.clear();
      pending_failures.clear();
      last_flush = std::chrono::steady_clock::now();
    };
    int64_t finished = 0;
    // A chunk holds exactly chunk_size videos (the last one fewer), whatever the encoder batches:
    // that many are redone after a kill.
    auto flush_if_full = [&] {
      if (static_cast<int64_t>(pending.size() + pending_failures.size()) >= o.chunk_size) flush();
    };
    for (std::vector<QueuedVideo> batch = queue.pop_up_to(videos_per_batch); !batch.empty();
         batch = queue.pop_up_to(videos_per_batch)) {
      std::vector<const encoders::DecodedVideo*> decoded;
      for (const QueuedVideo& item : batch) {
        if (item.video.error.empty()) decoded.push_back(&item.video);
      }
      const encoders::VideoFeatures features = encoders::encode_videos(decoded, encoders);
      int64_t row = 0;
      for (const QueuedVideo& item : batch) {   // in queue order: failures and successes alike
        const VideoEntry& entry = videos[todo[item.position]];
        if (!item.video.error.empty()) {
          pending_failures.push_back({todo[item.position], entry.id, entry.label, entry.path.string(), item.video.error});
          print("skipped: " + item.video.error);
          ++summary.failed;
        } else {
          pending_rows.push_back(features.visual.slice(0, row, row + 1));
          if (features.audio.defined()) pending_audio.push_back(features.audio.slice(0, row, row + 1));
          ++row;
          pending.push_back({todo[item.position], entry.id, entry.label, entry.path.string(), item.video.has_audio,
                             item.video.silent_audio});
          ++summary.extracted;
        }
        flush_if_full();
      }
      finished += static_cast<int64_t>(batch.size());
      progress.update(finished);
      const double since_flush = std::chrono::duration<double>(std::chrono::steady_clock::now() - last_flush).count();
      if (since_flush >= o.chunk_seconds) flush();
    }
    flush();
    progress.finish();
  } catch (...) {
    stop_decoders();
    throw;
  }
  stop_decoders();
}

}  // namespace

ExtractSummary run_extraction(const ExtractOptions& o, const util::LineSink& print) {
  encoders::check_frames_per_video(o.frames);
  util::check_option_range("decoders", "the number of decoding threads", o.decoders, 1, 256);
  util::check_option_range<int64_t>("batch-size", "the number of frames per encoder call", o.batch_size, 1, 4096);
  util::check_option_range<int64_t>("chunk-size", "the number of videos per chunk", o.chunk_size, 1, 1000000);
  const auto start = std::chrono::steady_clock::now();
  const bool sharded = o.shard.count > 1;
  // Every output is checked before any work: a mistake in a path must not cost an extraction.
  io::check_output_directory(o.out);
  io::check_output_directory(store_path_for(o));
  if (!sharded && fs::exists(o.out / "manifest.json") && !o.replace) {
    throw std::runtime_error(o.out.string() + ": already holds a dataset; use --force to replace it");
  }

  std::vector<SkippedFile> skipped_files;
  const std::vector<VideoEntry> videos = list_videos(o.videos, &skipped_files);
  for (const SkippedFile& f : skipped_files) print("not a video, skipped: " + f.path.string() + ": " + f.reason);
  const std::vector<data::ClassInfo> classes = job_classes(videos, o.class_names);
  std::vector<std::string> class_names;
  for (const data::ClassInfo& c : classes) class_names.push_back(c.name);
  // The split plan is read before any work, so a mistake in it costs nothing.
  std::optional<SplitPlan> plan;
  if (!sharded) {
    plan = split_plan_for(o.splits, class_names);
    std::vector<std::pair<std::string, std::string>> listed;
    for (const VideoEntry& v : videos) listed.emplace_back(v.id, v.label);
    check_every_split_gets_videos(*plan, listed);
  }
  const encoders::PromptTemplates templates = encoders::resolve_prompt_templates(o.templates, "clip");
  const bool with_audio = !o.clap_dir.empty();
  const encoders::PromptTemplates audio_templates = with_audio ? encoders::resolve_audio_prompt_templates(o.templates, o.audio_templates) : encoders::PromptTemplates{};

  const encoders::LoadedVideoEncoders loaded(o.clip_dir, with_audio ? o.clap_dir : fs::path(), o.frames, o.pixels, o.device);
  encoders::VideoEncoders encoders = loaded.view();
  encoders.frames_per_call = o.batch_size;
  encoders::ClipEncoder& clip = loaded.clip();
  encoders::ClapEncoder* const clap = loaded.clap();
  ExtractSummary summary;
  summary.listed = static_cast<int64_t>(videos.size());
  summary.store = store_path_for(o);
  std::vector<int64_t> in_shard;
  for (size_t i = 0; i < videos.size(); ++i) {
    if (o.shard.contains(videos[i].id)) in_shard.push_back(static_cast<int64_t>(i));
  }
  summary.in_shard = static_cast<int64_t>(in_shard.size());

  FeatureStore store = FeatureStore::open_for_job(summary.store, job_description(o, videos, classes, clip, templates, encoders.clap, audio_templates), o.shard,
                                                  summary.in_shard, o.restart);
  if (!store.has_class_text()) {
    std::vector<std::string> shown;
    for (const data::ClassInfo& c : classes) shown.push_back(c.display_name);
    const torch::Tensor clip_text = encoders::ensemble_class_embeddings(
        shown, templates, [&](const std::vector<std::string>& texts) { return clip.encode_texts(texts); });
    const torch::Tensor clap_text =
        clap ? encoders::ensemble_class_embeddings(shown, audio_templates,
                                         [&](const std::vector<std::string>& texts) { return clap->encode_texts(texts); })
             : torch::Tensor();
    store.write_class_text(clip_text, clap_text);
  }
  const std::set<std::string> done = store.done_ids();
  std::vector<int64_t> todo;
  for (int64_t i : in_shard) {
    if (!done.count(videos[i].id)) todo.push_back(i);
  }
  summary.done_before = summary.in_shard - static_cast<int64_t>(todo.size());
  print(fmt::format("extract: {} videos of {} classes{}; {} to do{}", summary.in_shard, classes.size(),
                    sharded ? " in shard " + o.shard.text() + " of " + std::to_string(summary.listed) : "", todo.size(),
                    summary.done_before ? fmt::format(" ({} done before, resuming {})", summary.done_before, summary.store.string())
                                        : ""));
  if (!todo.empty()) extract_videos(o, videos, todo, encoders, store, summary, print);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!sharded) {
    summary.report = assemble_dataset({store}, *plan, o.out, o.replace, skipped_files);
    summary.assembled = true;
    if (!o.keep_store) fs::remove_all(summary.store);
  }
  return summary;
}

}  // namespace avgzsl::extraction
