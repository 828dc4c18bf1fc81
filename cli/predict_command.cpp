// `predict`: which of these classes is each video? Zero-shot: the class names are new at every call.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "avgzsl/data/class_names.h"
#include "avgzsl/prediction/zero_shot_prediction.h"
#include "avgzsl/util/threads.h"
#include "commands.h"
#include "print_line.h"

namespace avgzsl::cli {
namespace fs = std::filesystem;

namespace {

std::string report_json(const prediction::PredictionReport& report) {
  nlohmann::json videos = nlohmann::json::array();
  for (const auto& v : report.videos) {
    nlohmann::json row = {{"video", v.video.string()}, {"has_audio", v.has_audio}};
    if (!v.error.empty()) {
      row["error"] = v.error;
    } else {
      nlohmann::json top = nlohmann::json::array();
      for (const auto& c : v.top) top.push_back({{"class", c.name}, {"score", c.score}});
      row["top"] = top;
    }
    videos.push_back(row);
  }
  return nlohmann::json{{"mode", report.mode}, {"modalities", report.modalities}, {"videos", videos}}.dump(2);
}

void print_report(const prediction::PredictionReport& report) {
  print_line(fmt::format("# {} ({}); score: {}", report.mode, report.modalities,
                         report.mode == "run" ? "-distance in the model's embedding space"
                                              : "class probability, CLIP and CLAP fused"));
  for (const auto& v : report.videos) {
    if (!v.error.empty()) {
      print_line(fmt::format("{}: error: {}", v.video.string(), v.error));
      continue;
    }
    print_line(fmt::format("{}{}", v.video.string(), v.has_audio || report.modalities == "visual" ? "" : " (no audio track)"));
    for (size_t i = 0; i < v.top.size(); ++i) {
      print_line(fmt::format("  {}. {:<40} {:.4f}", i + 1, v.top[i].name, v.top[i].score));
    }
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  struct Args {
    prediction::PredictOptions o;
    std::string classes;
    fs::path classes_file;
    std::string pixels = "standard";
    std::string device = "cpu";
    bool json = false;
    int threads = 0;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("predict", "zero-shot: rank class names (any, given now) for each video");
  c->add_option("videos", args->o.videos, "video files")->required();
  auto* classes = c->add_option("--classes", args->classes, "comma-separated class names, e.g. \"playing guitar,dog barking\"");
  auto* file = c->add_option("--classes-file", args->classes_file, "file with one class name per line");
  classes->excludes(file);
  c->add_option("--clip", args->o.clip_dir, "Hugging Face CLIP model directory")->required();
  c->add_option("--clap", args->o.clap_dir, "CLAP model folder or WavCaps checkpoint (adds what the videos sound like)");
  c->add_option("--run", args->o.run_dir,
                "a trained run (avgzsl train): score with its model; without it, training-free CLIP/CLAP similarities");
  c->add_option("--templates", args->o.templates, "prompt templates: ucf (default), activitynet, vggsound or a file");
  c->add_option("--audio-templates", args->o.audio_templates, "CLAP prompts (default: the audio prompts of --templates)");
  c->add_option("--frames", args->o.frames, "evenly spaced frames per video (default 1: the middle frame)");
  c->add_option("--frame-pixels", args->pixels, "standard (default) or reference (as the run's features were made)");
  c->add_option("--top-k", args->o.top_k, "classes to show per video (default 5)");
  c->add_flag("--json", args->json, "print JSON instead of text");
  c->add_option("--device", args->device, "cpu (default) or cuda[:N]");
  c->add_option("--threads", args->threads, "LibTorch threads, 0 = all cores (default 0)");
  c->callback([args] {
    util::configure_threads(args->threads);
    if (args->classes.empty() && args->classes_file.empty()) throw std::invalid_argument("give --classes or --classes-file");
    args->o.classes = args->classes_file.empty() ? data::parse_class_list(args->classes)
                                                 : data::read_class_file(args->classes_file);
    args->o.pixels = encoders::parse_frame_pixels(args->pixels);
    args->o.device = parse_device(args->device);
    const prediction::PredictionReport report = prediction::predict_videos(args->o);
    if (args->json) {
      print_line(report_json(report));
    } else {
      print_report(report);
    }
    // The readable videos are answered; an unreadable one still fails the command, so scripts notice.
    size_t failed = 0;
    for (const auto& v : report.videos) failed += !v.error.empty();
    if (failed) throw std::runtime_error(fmt::format("{} of {} videos could not be read", failed, report.videos.size()));
  });
}

}  // namespace avgzsl::cli
