#include "avgzsl/gzsl/avca_gzsl_defaults.h"

#include <stdexcept>
#include <utility>

namespace avgzsl::gzsl {

MethodDefaults avca_gzsl_run_script_defaults(const std::string& method, const std::string& family,
                                             nlohmann::json options) {
  if (family != "ucf" && family != "activitynet" && family != "vggsound") {
    throw std::invalid_argument(method + ": unknown dataset family '" + family +
                                "' (expected ucf, activitynet or vggsound)");
  }
  MethodDefaults d;
  d.epochs = 50;              // --epochs 50
  d.lr = 1e-3;                // --lr 0.001
  d.batch_size = 256;         // --bs not passed on the cls lines: src/args.py's 256
  d.batches_per_epoch = 500;  // --n_batches 500
  d.weight_decay = 0;         // main.py: optim.Adam(model.parameters(), lr)
  d.options = std::move(options);
  return d;
}

}  // namespace avgzsl::gzsl
