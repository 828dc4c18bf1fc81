// Figures: the SVG's structure (classes, legend texts, escaping, size), PNG and PDF bytes, the
// PNG's pixels, ticks, and the errors. AVGZSL_PLOT_LOOK_DIR=<dir> also writes the example figures
// (the paper's t-SNE, training curves, per-class and per-method bars) there for a human to look at.
#include <cairo.h>
#include <gtest/gtest.h>

#include <pugixml.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <stdexcept>
#include <string>

#include "avgzsl/plot/figure.h"
#include "ticks.h"

namespace plot_test {

using namespace avgzsl::plot;

const std::string daf_and_tabla = "Playing Daf & Tabla";

// Three classes of scatter points (one point of class b is NaN and must be skipped).
Figure three_class_scatter() {
  Figure figure;
  figure.width = 400;
  figure.height = 180;
  const auto& palette = qualitative_palette();
  const std::vector<std::string> names = {"dog barking", daf_and_tabla, "<violin>"};
  Panel panel;
  panel.title = "(a) audio features";
  panel.show_tick_labels = false;
  for (int c = 0; c < 3; ++c) {
    Series s;
    s.color = palette[c];
    s.marker = Marker::circle;
    s.marker_size = 10;
    for (int i = 0; i < 4 + c; ++i) {
      s.x.push_back(c * 10 + i);
      s.y.push_back(i * (c + 1));
    }
    if (c == 1) s.y[2] = std::nan("");
    panel.series.push_back(s);
    figure.legend.push_back({names[c], palette[c], Marker::circle, false});
  }
  figure.panels.push_back(panel);
  return figure;
}
constexpr int three_class_points = 4 + 4 + 6;  // 4 + 5 + 6 minus the NaN

pugi::xml_document parse(const std::string& svg) {
  pugi::xml_document doc;
  const pugi::xml_parse_result result = doc.load_string(svg.c_str());
  EXPECT_TRUE(result) << result.description() << " at " << result.offset;
  return doc;
}

size_t count_class(const pugi::xml_document& doc, const std::string& css_class) {
  return doc.select_nodes(("//*[@class='" + css_class + "']").c_str()).size();
}

uint32_t big_endian(const std::string& bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

struct PngReader {
  const std::string& bytes;
  size_t offset = 0;
};
cairo_status_t read_png(void* closure, unsigned char* data, unsigned int length) {
  auto* reader = static_cast<PngReader*>(closure);
  if (reader->offset + length > reader->bytes.size()) return CAIRO_STATUS_READ_ERROR;
  std::copy_n(reader->bytes.data() + reader->offset, length, data);
  reader->offset += length;
  return CAIRO_STATUS_SUCCESS;
}

// Every pixel's 0xRRGGBB, decoded by cairo.
std::vector<uint32_t> decode_png(const std::string& bytes, int& width, int& height) {
  PngReader reader{bytes};
  cairo_surface_t* surface = cairo_image_surface_create_from_png_stream(read_png, &reader);
  EXPECT_EQ(cairo_surface_status(surface), CAIRO_STATUS_SUCCESS);
  width = cairo_image_surface_get_width(surface);
  height = cairo_image_surface_get_height(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  const unsigned char* data = cairo_image_surface_get_data(surface);
  std::vector<uint32_t> pixels;
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) pixels.push_back(*reinterpret_cast<const uint32_t*>(data + y * stride + 4 * x) & 0xFFFFFF);
  }
  cairo_surface_destroy(surface);
  return pixels;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "(no std::invalid_argument)";
}

// --- The example figures of the report, also written for a look (AVGZSL_PLOT_LOOK_DIR). ---

const std::vector<std::string> nine_classes = {"dog barking", "playing violin", daf_and_tabla, "helicopter",
                                               "baby crying", "chainsaw", "playing accordion", "rain", "lions roaring"};

Figure tsne_figure() {
  std::mt19937 random(7);
  std::normal_distribution<double> noise(0, 1);
  Figure figure;
  figure.width = 504;
  figure.height = 170;
  const auto& palette = qualitative_palette();
  const std::vector<std::string> titles = {"(a) audio features", "(b) visual features", "(c) learned embeddings"};
  for (int p = 0; p < 3; ++p) {
    Panel panel;
    panel.title = titles[p];
    panel.show_tick_labels = false;
    for (int c = 0; c < 9; ++c) {
      const double cx = 20 * std::cos(c * 0.7 + p), cy = 20 * std::sin(c * 1.3 + p);
      Series videos;
      videos.color = palette[c];
      videos.marker = p == 2 ? Marker::cross : Marker::circle;
      videos.marker_size = 3;
      videos.marker_opacity = 0.75;
      for (int i = 0; i < 40; ++i) {
        videos.x.push_back(cx + (5 - p) * noise(random));
        videos.y.push_back(cy + (5 - p) * noise(random));
      }
      panel.series.push_back(videos);
      if (p == 2) {
        Series text;
        text.color = palette[c];
        text.marker = Marker::diamond;
        text.marker_size = 8;
        text.marker_edge = true;
        text.x = {cx};
        text.y = {cy};
        panel.series.push_back(text);
      }
    }
    figure.panels.push_back(panel);
  }
  for (int c = 0; c < 9; ++c) figure.legend.push_back({nine_classes[c], palette[c], Marker::circle, false});
  return figure;
}

Figure training_curves_figure() {
  Figure figure;
  figure.width = 504;
  figure.height = 180;
  const auto& palette = qualitative_palette();
  Panel curves;
  curves.title = "validation";
  curves.x_label = "epoch";
  curves.y_label = "accuracy (%)";
  curves.legend = true;
  const std::vector<std::string> names = {"S", "U", "HM"};
  for (int k = 0; k < 3; ++k) {
    Series s;
    s.label = names[k];
    s.color = palette[k == 2 ? 3 : k];
    s.line = true;
    s.marker = Marker::none;
    for (int epoch = 1; epoch <= 50; ++epoch) {
      s.x.push_back(epoch);
      s.y.push_back((k == 0 ? 60 : k == 1 ? 30 : 40) * (1 - std::exp(-epoch / 8.0)) + 2 * std::sin(epoch * (k + 1)));
    }
    curves.series.push_back(s);
  }
  curves.vertical_lines.push_back({34, "best epoch 34", neutral_grey(), true});
  curves.vertical_lines.back().color = Color{0x66, 0x66, 0x66};
  Panel calibration;
  calibration.title = "calibration";
  calibration.x_label = "β";
  calibration.y_label = "accuracy (%)";
  calibration.legend = true;
  for (int k = 0; k < 3; ++k) {
    Series s;
    s.label = names[k];
    s.color = palette[k == 2 ? 3 : k];
    s.line = true;
    s.marker = Marker::circle;
    s.marker_size = 3;
    for (int i = 0; i <= 20; ++i) {
      const double beta = -0.5 + 0.05 * i;
      s.x.push_back(beta);
      const double seen = 65 - 60 / (1 + std::exp(-8 * beta)), unseen = 5 + 45 / (1 + std::exp(-8 * beta));
      s.y.push_back(k == 0 ? seen : k == 1 ? unseen : 2 * seen * unseen / (seen + unseen));
    }
    calibration.series.push_back(s);
  }
  calibration.vertical_lines.push_back({0.15, "β = 0.15", Color{0x66, 0x66, 0x66}, true});
  figure.panels = {curves, calibration};
  return figure;
}

Figure learning_rate_figure() {
  Figure figure;
  figure.width = 243;
  figure.height = 150;
  Panel panel;
  panel.x_label = "epoch";
  panel.y_label = "learning rate";
  panel.log_y = true;
  Series s;
  s.color = qualitative_palette()[1];
  s.line = true;
  s.marker = Marker::none;
  for (int epoch = 1; epoch <= 60; ++epoch) {
    s.x.push_back(epoch);
    s.y.push_back(1e-3 * std::pow(0.1, (epoch - 1) / 20));
  }
  panel.series.push_back(s);
  figure.panels.push_back(panel);
  return figure;
}

Figure per_class_figure() {
  Figure figure;
  figure.width = 504;
  figure.height = 170;
  Panel panel;
  panel.title = "per-class accuracy (test)";
  panel.x_label = "classes (51, sorted)";
  panel.y_label = "accuracy (%)";
  for (int i = 0; i < 51; ++i) {
    const bool unseen = i % 3 == 0;
    const double value = 95 * std::exp(-i / 18.0);
    panel.bars.push_back({"class " + std::to_string(i), value, 0, unseen ? qualitative_palette()[0] : qualitative_palette()[1]});
  }
  panel.max_category_labels = 30;
  figure.panels.push_back(panel);
  figure.legend = {{"seen", qualitative_palette()[1], Marker::square, false}, {"unseen", qualitative_palette()[0], Marker::square, false}};
  return figure;
}

Figure methods_figure() {
  Figure figure;
  figure.width = 243;
  figure.height = 170;
  Panel panel;
  panel.y_label = "HM (%)";
  const std::vector<std::string> methods = {"ALE", "SJE", "DEVISE", "APN", "CJME", "AVGZSLNet", "AVCA", "hyper-multiple", "training-free"};
  for (size_t i = 0; i < methods.size(); ++i) {
    panel.bars.push_back({methods[i], 5 + 3.0 * i + (i % 2), 0.4 + 0.2 * (i % 3), qualitative_palette()[i]});
  }
  figure.panels.push_back(panel);
  return figure;
}

// One t-SNE panel in a paper column, the legend below it.
Figure tsne_column_figure() {
  Figure figure = tsne_figure();
  figure.panels.erase(figure.panels.begin(), figure.panels.begin() + 2);
  figure.width = 243;
  figure.height = 230;
  figure.legend_right = false;
  return figure;
}

// 51 classes: the right legend needs several columns and shortened names.
Figure many_classes_figure() {
  Figure figure = tsne_figure();
  figure.panels.resize(2);
  figure.legend.clear();
  for (int c = 0; c < 51; ++c) {
    figure.legend.push_back({nine_classes[c % 9] + (c >= 9 ? " " + std::to_string(c) : ""), qualitative_palette()[c % 9]});
  }
  figure.legend[5].label = "a class name far too long for any legend column whatsoever";
  return figure;
}

Figure per_class_300_figure() {
  Figure figure = per_class_figure();
  figure.panels[0].bars.clear();
  for (int i = 0; i < 300; ++i) {
    figure.panels[0].bars.push_back({"c" + std::to_string(i), 90 * std::exp(-i / 80.0), 0,
                                     i % 4 == 0 ? qualitative_palette()[0] : qualitative_palette()[1]});
  }
  figure.panels[0].x_label = "classes (300, sorted)";
  return figure;
}

// Every marker, in the data and in a legend with lines.
Figure markers_figure() {
  Figure figure;
  figure.width = 243;
  figure.height = 140;
  Panel panel;
  panel.x_label = "x";
  panel.y_label = "y";
  const std::vector<std::pair<Marker, std::string>> markers = {{Marker::circle, "circle"},     {Marker::square, "square"},
                                                               {Marker::diamond, "diamond"},   {Marker::triangle, "triangle"},
                                                               {Marker::cross, "cross"},       {Marker::plus, "plus"}};
  for (size_t k = 0; k < markers.size(); ++k) {
    Series s;
    s.color = qualitative_palette()[k];
    s.marker = markers[k].first;
    s.marker_size = 5;
    s.line = k % 2 == 0;
    s.dashed = k == 4;
    for (int i = 0; i < 6; ++i) s.x.push_back(i), s.y.push_back(-3.0 + k + 0.3 * i);
    panel.series.push_back(s);
    figure.legend.push_back({markers[k].second, s.color, s.marker, s.line, s.dashed});
  }
  figure.panels.push_back(panel);
  return figure;
}

// --- Tests ---

TEST(PlotTest, ScatterSvgHasOnePointElementPerFinitePointAndTheLegendTexts) {
  const std::string svg = render(three_class_scatter(), Format::svg);
  EXPECT_EQ(svg.rfind("<?xml", 0), 0u);
  const pugi::xml_document doc = parse(svg);
  const pugi::xml_node root = doc.child("svg");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("width").value(), "400pt");
  EXPECT_STREQ(root.attribute("height").value(), "180pt");
  EXPECT_STREQ(root.attribute("viewBox").value(), "0 0 400 180");
  EXPECT_EQ(count_class(doc, "point"), static_cast<size_t>(three_class_points));
  EXPECT_EQ(doc.select_nodes("//g[@class='series']").size(), 3u);
  EXPECT_EQ(doc.select_nodes("//g[@class='panel']").size(), 1u);
  const pugi::xpath_node_set entries = doc.select_nodes("//g[@class='legend-entry']");
  ASSERT_EQ(entries.size(), 3u);
  std::vector<std::string> texts;
  for (const pugi::xpath_node& entry : entries) texts.push_back(entry.node().child("text").text().get());
  EXPECT_EQ(texts, (std::vector<std::string>{"dog barking", daf_and_tabla, "<violin>"}));
  EXPECT_NE(svg.find("Playing Daf &amp; Tabla"), std::string::npos);
  EXPECT_NE(svg.find("&lt;violin&gt;"), std::string::npos);
  // Real text, and nothing that would clash when several figures are inline in one page.
  EXPECT_TRUE(doc.select_node("//text[.='(a) audio features']"));
  EXPECT_TRUE(doc.select_nodes("//*[@id]").empty());
  EXPECT_EQ(svg.find("<defs"), std::string::npos);
}

TEST(PlotTest, InlineSvgIsTheSameElementWithoutTheProlog) {
  const Figure figure = three_class_scatter();
  const std::string inline_svg = render_inline_svg(figure);
  EXPECT_EQ(inline_svg.rfind("<svg ", 0), 0u);
  EXPECT_EQ(render(figure, Format::svg), "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + inline_svg);
}

TEST(PlotTest, PngHasTheSizeOfTheFigureAtItsDpiAndShowsTheSeriesColours) {
  Figure figure = three_class_scatter();
  figure.png_dpi = 150;
  const std::string png = render(figure, Format::png);
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(big_endian(png, 16), static_cast<uint32_t>(std::lround(400 * 150 / 72.0)));
  EXPECT_EQ(big_endian(png, 20), static_cast<uint32_t>(std::lround(180 * 150 / 72.0)));

  int width = 0, height = 0;
  const std::vector<uint32_t> pixels = decode_png(png, width, height);
  EXPECT_EQ(width, 833);
  std::set<uint32_t> colours(pixels.begin(), pixels.end());
  colours.erase(0xFFFFFF);
  EXPECT_GE(colours.size(), 2u);
  for (int c = 0; c < 3; ++c) {
    const Color colour = qualitative_palette()[c];
    const uint32_t rgb = (colour.r << 16) | (colour.g << 8) | colour.b;
    EXPECT_TRUE(colours.count(rgb)) << "no pixel of " << colour.hex();
  }
}

TEST(PlotTest, PdfIsACompleteDocumentWithTheFontEmbedded) {
  const std::string pdf = render(three_class_scatter(), Format::pdf);
  EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
  const std::string tail = pdf.substr(pdf.size() - 8);
  EXPECT_NE(tail.find("%%EOF"), std::string::npos) << tail;
  EXPECT_EQ(pdf.back(), '\n');
  EXPECT_NE(pdf.find("DejaVu"), std::string::npos) << "text should be text, in the embedded font";
}

TEST(PlotTest, BarsAndErrorBarsAreCountedAndLabelledWhenFew) {
  Figure figure;
  Panel panel;
  panel.y_label = "HM (%)";
  for (int i = 0; i < 5; ++i) panel.bars.push_back({"method " + std::to_string(i), 10.0 + i, i < 3 ? 1.5 : 0, qualitative_palette()[i]});
  figure.panels.push_back(panel);
  pugi::xml_document doc = parse(render(figure, Format::svg));
  EXPECT_EQ(count_class(doc, "bar"), 5u);
  EXPECT_EQ(count_class(doc, "error-bar"), 3u);
  EXPECT_TRUE(doc.select_node("//text[.='method 4']"));

  figure.panels[0].max_category_labels = 4;
  doc = parse(render(figure, Format::svg));
  EXPECT_EQ(count_class(doc, "bar"), 5u);
  EXPECT_FALSE(doc.select_node("//text[.='method 4']"));
}

TEST(PlotTest, ManyLongCategoryLabelsAreTurned) {
  Figure figure = methods_figure();
  const pugi::xml_document doc = parse(render(figure, Format::svg));
  const pugi::xpath_node label = doc.select_node("//text[.='hyper-multiple']");
  ASSERT_TRUE(label);
  EXPECT_NE(std::string(label.node().attribute("transform").value()).find("rotate("), std::string::npos);
}

TEST(PlotTest, LogAxisTicksArePowersOfTen) {
  const pugi::xml_document doc = parse(render(learning_rate_figure(), Format::svg));
  EXPECT_TRUE(doc.select_node("//text[.='10⁻⁴']"));
  EXPECT_TRUE(doc.select_node("//text[.='10⁻⁵']"));
  EXPECT_EQ(count_class(doc, "line"), 1u);
}

TEST(PlotTest, NiceTicksStepBy1_2Or5) {
  using avgzsl::plot::detail::linear_ticks;
  using avgzsl::plot::detail::log_ticks;
  using avgzsl::plot::detail::nice_step;
  EXPECT_DOUBLE_EQ(nice_step(10, 5), 2);
  EXPECT_DOUBLE_EQ(nice_step(7, 5), 2);
  EXPECT_DOUBLE_EQ(nice_step(0.9, 4), 0.5);
  EXPECT_DOUBLE_EQ(nice_step(100, 10), 10);
  const auto ticks = linear_ticks(-0.13, 1.07, 6);
  EXPECT_EQ(ticks.labels, (std::vector<std::string>{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}));
  EXPECT_EQ(linear_ticks(-2.2, 52, 6).labels, (std::vector<std::string>{"0", "10", "20", "30", "40", "50"}));
  EXPECT_EQ(linear_ticks(-1, 1, 2).labels, (std::vector<std::string>{"−1", "0", "1"}));
  EXPECT_EQ(log_ticks(-5.1, -2.9, 5).labels, (std::vector<std::string>{"10⁻⁵", "10⁻⁴", "10⁻³"}));
  // A constant learning rate: less than two powers of ten in range.
  EXPECT_EQ(log_ticks(-4.5, -3.5, 5).labels, (std::vector<std::string>{"5×10⁻⁵", "10⁻⁴", "2×10⁻⁴"}));
  EXPECT_EQ(log_ticks(0, 12, 4).labels, (std::vector<std::string>{"1", "1000", "10⁶", "10⁹", "10¹²"}));
}

TEST(PlotTest, TextIsKeptValidWhateverTheBytes) {
  Figure figure = three_class_scatter();
  figure.legend[0].label = "bad \xff byte\tand tab";
  figure.title = "β ≠ 0 — ünïcode";
  const pugi::xml_document doc = parse(render(figure, Format::svg));
  EXPECT_TRUE(doc.select_node("//text[.='bad \xEF\xBF\xBD byte and tab']"));
  EXPECT_TRUE(doc.select_node("//text[.='β ≠ 0 — ünïcode']"));
  EXPECT_NO_THROW(render(figure, Format::png));
  EXPECT_NO_THROW(render(figure, Format::pdf));
}

TEST(PlotTest, ManyLegendEntriesWrapIntoColumnsInsideTheFigure) {
  Figure figure = three_class_scatter();
  figure.legend.clear();
  for (int c = 0; c < 40; ++c) figure.legend.push_back({"class number " + std::to_string(c), qualitative_palette()[c % 9]});
  const pugi::xml_document doc = parse(render(figure, Format::svg));
  std::set<double> columns;
  for (const pugi::xpath_node& text : doc.select_nodes("//g[@class='legend-entry']/text")) {
    const double x = text.node().attribute("x").as_double(), y = text.node().attribute("y").as_double();
    EXPECT_LE(x, figure.width);
    EXPECT_GE(y, 0);
    EXPECT_LE(y, figure.height);
    columns.insert(x);
  }
  EXPECT_GE(columns.size(), 2u);
}

TEST(PlotTest, DegenerateDataStillDraws) {
  Figure figure;
  figure.panels.resize(4);
  figure.panels[1].series.push_back({"all NaN", {std::nan(""), 1}, {2, std::nan("")}});
  figure.panels[2].series.push_back({"one point", {3}, {4}});
  Series constant_rate;
  constant_rate.line = true;
  constant_rate.x = {1, 2, 3};
  constant_rate.y = {1e-4, 1e-4, 1e-4};
  figure.panels[3].series.push_back(constant_rate);
  figure.panels[3].log_y = true;
  for (const Format format : {Format::png, Format::svg, Format::pdf}) EXPECT_NO_THROW(render(figure, format));
  const pugi::xml_document doc = parse(render(figure, Format::svg));
  EXPECT_EQ(count_class(doc, "point"), 1u + 3u);
  EXPECT_TRUE(doc.select_node("//text[.='10⁻⁴']"));
}

TEST(PlotTest, PointsOutsideAnExplicitRangeAreLeftOutAndLinesClipped) {
  Figure figure;
  Panel panel;
  Series s;
  s.line = true;
  for (int i = 0; i <= 10; ++i) s.x.push_back(i), s.y.push_back(i);
  panel.series.push_back(s);
  panel.x_range = std::pair{2.5, 7.5};
  figure.panels.push_back(panel);
  const pugi::xml_document doc = parse(render(figure, Format::svg));
  EXPECT_EQ(count_class(doc, "point"), 5u);  // 3..7
  const std::string line = doc.select_node("//*[@class='line']").node().attribute("d").value();
  EXPECT_EQ(line.rfind("M", 0), 0u);
  EXPECT_EQ(line.find(" M"), std::string::npos) << "one piece: " << line;
}

TEST(PlotTest, ErrorsNameThePanel) {
  EXPECT_EQ(error_of([] { render(Figure{}, Format::svg); }), "a figure needs at least one panel");

  Figure mismatched = three_class_scatter();
  mismatched.panels[0].series[1].y.pop_back();
  const std::string message = error_of([&] { render(mismatched, Format::png); });
  EXPECT_NE(message.find("(a) audio features"), std::string::npos) << message;
  EXPECT_NE(message.find("5 x values but 4 y values"), std::string::npos) << message;

  Figure log_axis = learning_rate_figure();
  log_axis.panels.insert(log_axis.panels.begin(), three_class_scatter().panels[0]);
  log_axis.panels[1].series[0].y[3] = 0;
  const std::string log_message = error_of([&] { render(log_axis, Format::svg); });
  EXPECT_NE(log_message.find("panel 2"), std::string::npos) << log_message;
  EXPECT_NE(log_message.find("log y axis"), std::string::npos) << log_message;

  Figure log_bars = methods_figure();
  log_bars.panels[0].log_y = true;
  log_bars.panels[0].bars[2].value = -1;
  EXPECT_NE(error_of([&] { render(log_bars, Format::svg); }).find("DEVISE"), std::string::npos);

  Figure no_pixels = three_class_scatter();
  no_pixels.png_dpi = 0;
  EXPECT_NE(error_of([&] { render(no_pixels, Format::png); }).find("png_dpi"), std::string::npos);

  const std::string extension = error_of([] { format_of("figures/tsne.jpg"); });
  EXPECT_NE(extension.find("figures/tsne.jpg"), std::string::npos) << extension;
  EXPECT_EQ(format_of("a/B.PNG"), Format::png);
  EXPECT_EQ(format_of("b.svg"), Format::svg);
  EXPECT_EQ(format_of("c.Pdf"), Format::pdf);
}

TEST(PlotTest, ExampleFiguresRenderInEveryFormat) {
  const std::vector<std::pair<std::string, Figure>> figures = {
      {"tsne", tsne_figure()},         {"training_curves", training_curves_figure()}, {"learning_rate", learning_rate_figure()},
      {"per_class", per_class_figure()}, {"methods", methods_figure()},
      {"tsne_column", tsne_column_figure()}, {"many_classes", many_classes_figure()}, {"per_class_300", per_class_300_figure()},
      {"markers", markers_figure()}};
  const char* look = std::getenv("AVGZSL_PLOT_LOOK_DIR");
  for (const auto& [name, figure] : figures) {
    for (const auto& [format, extension] : {std::pair{Format::png, ".png"}, {Format::svg, ".svg"}, {Format::pdf, ".pdf"}}) {
      const std::string bytes = render(figure, format);
      EXPECT_GT(bytes.size(), 100u) << name << extension;
      if (format == Format::svg) parse(bytes);
      if (look) {
        std::filesystem::create_directories(look);
        std::ofstream(std::filesystem::path(look) / (name + extension), std::ios::binary) << bytes;
      }
    }
  }
  const pugi::xml_document tsne = parse(render(tsne_figure(), Format::svg));
  EXPECT_EQ(count_class(tsne, "point"), 9u * 40 * 3 + 9);
  EXPECT_EQ(tsne.select_nodes("//g[@class='panel']").size(), 3u);
  EXPECT_EQ(tsne.select_nodes("//g[@class='legend-entry']").size(), 9u);
}

}  // namespace plot_test
