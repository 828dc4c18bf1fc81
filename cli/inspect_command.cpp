// `avgzsl inspect FILE|DIR`: what a file or folder is and whether avgzsl can use it.
#include <fmt/format.h>

#include <memory>

#include "avgzsl/inspection/inspection.h"
#include "commands.h"

namespace avgzsl::cli {

void add_inspect_command(CLI::App& app) {
  struct Args {
    std::string path;
    bool json = false;
    size_t max_tensors = 20;
  };
  auto args = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand(
      "inspect", "tell what a file or folder is (torch.save, safetensors, model folder, feature release, dataset, run) "
                 "and whether avgzsl can use it");
  c->add_option("path", args->path, "file or folder")->required();
  c->add_flag("--json", args->json, "print the description as JSON (every tensor listed)");
  c->add_option("--max-tensors", args->max_tensors, "tensors listed in text output (default 20)");
  c->callback([args] {
    const nlohmann::ordered_json description = inspection::inspect_path(args->path);
    if (args->json) fmt::print("{}\n", description.dump(2));
    else fmt::print("{}", inspection::inspection_text(description, args->max_tensors));
  });
}

}  // namespace avgzsl::cli
