// Axis ticks at "nice" values. Written here because no Debian library offers it without a whole
// plotting system around it (docs/figures.md).
#pragma once

#include <string>
#include <vector>

namespace avgzsl::plot::detail {

struct Ticks {
  std::vector<double> values;       // data values (not log10) inside the range
  std::vector<std::string> labels;  // one per value
};

// The step 1, 2 or 5 × 10^k that divides `span` into at most `target` intervals.
double nice_step(double span, int target);
// Multiples of nice_step(hi - lo, target) within [lo, hi], labelled with just enough decimals.
Ticks linear_ticks(double lo, double hi, int target);
// For a base-10 axis over [10^lo_exponent, 10^hi_exponent]: powers of ten (every second one or
// more when there are many), or 1-2-5 multiples when the range holds fewer than two powers.
Ticks log_ticks(double lo_exponent, double hi_exponent, int target);

}  // namespace avgzsl::plot::detail
