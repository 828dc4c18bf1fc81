// The training settings that AVCA-GZSL's run scripts give its methods alike on every benchmark,
// one home for the registry entries of CJME, AVGZSLNet, DEVISE, ALE, SJE and AVCA.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "avgzsl/gzsl/method_registry.h"

namespace avgzsl::gzsl {

// The training settings of AVCA-GZSL's run scripts (run_scripts/{UCF,ActivityNet,VGGSound}-GZSL/
// <method>.sh, cls lines: --epochs 50 --lr 0.001 --n_batches 500; src/args.py --bs 256; main.py
// Adam without weight decay), with `options`. AVCA's own optimiser adds weight_decay=1e-5, which
// its registry entry sets on top. Throws std::invalid_argument naming `method` for a family other
// than ucf, activitynet, vggsound.
MethodDefaults avca_gzsl_run_script_defaults(const std::string& method, const std::string& family,
                                             nlohmann::json options);

}  // namespace avgzsl::gzsl
