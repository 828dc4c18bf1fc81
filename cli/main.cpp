// avgzsl: audio-visual generalized zero-shot video classification.
// Only this file catches: library errors become one line "error: ..." and exit code 1.
#include <cstdio>
#include <exception>

#include <c10/util/Exception.h>

#include "avgzsl/media/video_decoder.h"
#include "avgzsl/util/allocator.h"
#include "avgzsl/util/option_error.h"
#include "avgzsl/util/threads.h"
#include "commands.h"

int main(int argc, char** argv) {
  avgzsl::util::restart_with_passive_openmp(argv);
  avgzsl::util::keep_freed_tensor_memory();
  // Broken videos make FFmpeg talkative; extract and predict report every failure once, with its
  // file. FFmpeg's own lines go through our log, shown only with --verbose.
  avgzsl::media::route_ffmpeg_log(avgzsl::media::FfmpegLogLevel::kQuiet, nullptr);
  CLI::App app{"avgzsl: audio-visual (generalized) zero-shot video classification with CLIP and CLAP features"};
  app.require_subcommand(1);
  app.fallthrough();   // --verbose after the verb too
  app.add_flag_callback(
      "--verbose",
      [] {
        avgzsl::media::route_ffmpeg_log(avgzsl::media::FfmpegLogLevel::kInfo, [](const std::string& line) {
          std::fprintf(stderr, "ffmpeg: %s\n", line.c_str());
        });
      },
      "also show FFmpeg's own messages about the media files it reads (stderr, prefixed 'ffmpeg: ')");
  app.set_version_flag("--version", "avgzsl 0.1.0");
  avgzsl::cli::add_synth_command(app);
  avgzsl::cli::add_train_command(app);
  avgzsl::cli::add_evaluate_command(app);
  avgzsl::cli::add_ablate_command(app);
  avgzsl::cli::add_benchmark_command(app);
  avgzsl::cli::add_import_clipclap_command(app);
  avgzsl::cli::add_export_command(app);
  avgzsl::cli::add_import_checkpoint_command(app);
  avgzsl::cli::add_extract_command(app);
  avgzsl::cli::add_merge_command(app);
  avgzsl::cli::add_embed_classes_command(app);
  avgzsl::cli::add_predict_command(app);
  avgzsl::cli::add_inspect_command(app);
  avgzsl::cli::add_tsne_command(app);
  avgzsl::cli::add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const avgzsl::util::OptionError& e) {
    std::fprintf(stderr, "error: %s\n", e.flag_message().c_str());  // the library names the meaning, we the flag
    return 1;
  } catch (const c10::Error& e) {
    // LibTorch's own checks: the message without the C++ stack trace LibTorch appends.
    std::fprintf(stderr, "error: %s\n", e.what_without_backtrace());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
