#include <fmt/format.h>

#include <memory>

#include "avgzsl/data/dataset.h"
#include "avgzsl/data/synthetic.h"
#include "commands.h"

namespace avgzsl::cli {

void add_synth_command(CLI::App& app) {
  struct Args {
    std::string out;
    data::SyntheticOptions options;
    bool force = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("synth", "write the embedded synthetic benchmark (a test bed, not a benchmark)");
  c->add_option("--out", args->out, "output dataset directory")->required();
  c->add_option("--seed", args->options.seed, "random seed (default 0)");
  c->add_option("--difficulty", args->options.difficulty, "noise scale: 0.5 easy, 1 default, 2 hard");
  c->add_option("--videos-scale", args->options.videos_scale, "multiplies the videos per class (default 1)");
  c->add_flag("--force", args->force, "replace an existing directory");
  c->callback([args] {
    const data::Dataset d = data::make_synthetic_dataset(args->options);
    data::save_dataset(d, args->out, args->force);
    int64_t videos = 0;
    for (const auto& [name, split] : d.video_splits) videos += split.size();
    fmt::print("wrote {} to {}: {} classes, {} videos, visual {} / audio {} features, CLIP {} / CLAP {} text\n", d.name,
               args->out, d.num_classes(), videos, d.visual_dim, d.audio_dim, d.clip_dim, d.clap_dim);
  });
}

}  // namespace avgzsl::cli
