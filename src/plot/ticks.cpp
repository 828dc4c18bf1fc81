#include "ticks.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace avgzsl::plot::detail {

namespace {

// Superscript digits, so that a log axis reads 10⁻⁴ in every back-end without markup.
std::string superscript(int exponent) {
  static const char* const digits[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string out = exponent < 0 ? "⁻" : "";
  for (const char c : std::to_string(std::abs(exponent))) out += digits[c - '0'];
  return out;
}

// m × 10^k as people write it on an axis: plain for everyday magnitudes, else 10ᵏ or m×10ᵏ.
std::string power_label(int mantissa, int exponent) {
  if (exponent >= -2 && exponent <= 3) return fmt::format("{:g}", mantissa * std::pow(10.0, exponent));
  const std::string power = "10" + superscript(exponent);
  return mantissa == 1 ? power : fmt::format("{}×{}", mantissa, power);
}

}  // namespace

double nice_step(double span, int target) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (const double m : {1.0, 2.0, 5.0}) {
    if (m * magnitude >= raw * (1 - 1e-9)) return m * magnitude;
  }
  return 10 * magnitude;
}

Ticks linear_ticks(double lo, double hi, int target) {
  Ticks ticks;
  const double step = nice_step(hi - lo, target);
  const double first = std::ceil(lo / step - 1e-9), last = std::floor(hi / step + 1e-9);
  const double magnitude = std::max(std::abs(lo), std::abs(hi));
  // As many decimals as the step needs (0.2 → one), or significant digits for extreme scales.
  const bool general = magnitude >= 1e6 || step < 1e-4;
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  const int significant = static_cast<int>(std::ceil(std::log10(std::max(magnitude, step) / step))) + 1;
  for (double k = first; k <= last && ticks.values.size() < 1000; ++k) {
    double value = k * step;
    if (std::abs(value) < step * 1e-9) value = 0;  // never "-0"
    ticks.values.push_back(value);
    std::string label = general ? fmt::format("{:.{}g}", value, significant) : fmt::format("{:.{}f}", value, decimals);
    if (label[0] == '-') label.replace(0, 1, "−");  // the minus sign, as wide as the digits
    ticks.labels.push_back(std::move(label));
  }
  return ticks;
}

Ticks log_ticks(double lo_exponent, double hi_exponent, int target) {
  Ticks ticks;
  const int first = static_cast<int>(std::ceil(lo_exponent - 1e-9));
  const int last = static_cast<int>(std::floor(hi_exponent + 1e-9));
  const int powers = last - first + 1;
  if (powers >= 2) {
    int every = 1;
    while (powers / every > std::max(target, 2)) ++every;
    // Multiples of `every` (10⁰, 10³, 10⁶...) when there are at least two, else from the first.
    int start = first;
    for (int k = first; k < first + every; ++k) {
      if (k % every == 0 && (last - k) / every >= 1) { start = k; break; }
    }
    for (int k = start; k <= last; k += every) {
      ticks.values.push_back(std::pow(10.0, k));
      ticks.labels.push_back(power_label(1, k));
    }
    return ticks;
  }
  for (int k = first - 1; k <= last + 1; ++k) {
    for (const int m : {1, 2, 5}) {
      const double exponent = k + std::log10(static_cast<double>(m));
      if (exponent < lo_exponent - 1e-9 || exponent > hi_exponent + 1e-9) continue;
      ticks.values.push_back(m * std::pow(10.0, k));
      ticks.labels.push_back(power_label(m, k));
    }
  }
  if (ticks.values.size() >= 2) return ticks;
  // Less than a factor of 2.5 from end to end: linear steps read best.
  return linear_ticks(std::pow(10.0, lo_exponent), std::pow(10.0, hi_exponent), target);
}

}  // namespace avgzsl::plot::detail
