// Zero-shot classification of one video among class names given on the command line, with no
// training: CLIP's image-text similarities (and CLAP's audio-text ones, with a CLAP model).
//
//   zero_shot_video VIDEO CLIP_DIR "class a,class b,..." [CLAP_MODEL]
#include <avgzsl/data/class_names.h>
#include <avgzsl/prediction/zero_shot_prediction.h>
#include <avgzsl/util/threads.h>

#include <cstdio>
#include <exception>

int main(int argc, char** argv) {
  if (argc < 4 || argc > 5) {
    std::fprintf(stderr, "usage: %s VIDEO CLIP_DIR \"class a,class b,...\" [CLAP_MODEL]\n", argv[0]);
    return 2;
  }
  try {
    avgzsl::util::configure_threads(0);  // the library never sets process state itself

    avgzsl::prediction::PredictOptions options;
    options.videos = {argv[1]};
    options.clip_dir = argv[2];
    options.classes = avgzsl::data::parse_class_list(argv[3]);
    if (argc == 5) options.clap_dir = argv[4];
    options.top_k = 3;

    const avgzsl::prediction::PredictionReport report = avgzsl::prediction::predict_videos(options);
    for (const avgzsl::prediction::VideoPrediction& video : report.videos) {
      if (!video.error.empty()) {
        std::fprintf(stderr, "%s: %s\n", video.video.c_str(), video.error.c_str());
        return 1;
      }
      std::printf("%s (%s, %s)\n", video.video.c_str(), report.mode.c_str(), report.modalities.c_str());
      for (const avgzsl::prediction::ClassScore& c : video.top) std::printf("  %-24s %.4f\n", c.name.c_str(), c.score);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
