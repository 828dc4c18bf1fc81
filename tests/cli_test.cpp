// The avgzsl executable as a user runs it: exit codes, one-line errors, run directories.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <cairo.h>
#include <fmt/format.h>

#include <array>
#include <set>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "avgzsl/data/synthetic.h"
#include "avgzsl/io/atomic_file.h"
#include "avgzsl/io/safetensors.h"
#include "test_support.h"
#include "tiny_clap_model.h"

namespace avgzsl {
namespace {
namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string command = std::string(AVGZSL_CLI_PATH) + " " + args + " 2>&1";
  Result r;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A failing command: non-zero exit, a single "error: ..." line that contains `expected`.
void expect_one_line_error(const Result& r, const std::string& expected) {
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_EQ(r.out.rfind("error: ", 0), 0u) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_NE(r.out.find(expected), std::string::npos) << r.out;
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override { data::save_dataset(testing::tiny_dataset(), data()); }
  fs::path data() const { return dir_ / "data"; }
  std::string quick() const { return "--epochs 2 --batches-per-epoch 5 --batch-size 16 --threads 1"; }
  testing::TempDir dir_;
};

TEST_F(Cli, UnknownMethodsAndOptionsAMethodDoesNotHaveAreOneLineErrors) {
  const std::string base = "train --data " + data().string() + " --out " + (dir_ / "run").string() + " " + quick();
  expect_one_line_error(run(base + " --method nope"), "unknown method 'nope' (expected one of clipclap");
  expect_one_line_error(run(base + " --set margin=0.5"), "method clipclap has no option 'margin'");
  expect_one_line_error(run(base + " --set margin"), "--set 'margin': expected KEY=VALUE");
  EXPECT_FALSE(fs::exists(dir_ / "run"));
  EXPECT_FALSE(fs::exists(dir_ / "run.partial"));
}

TEST_F(Cli, BenchmarkRunsEveryRunOnceResumesAndCollectsShards) {
  const std::string plan = "benchmark --data " + data().string() + " --methods clipclap --seeds 2 --epochs 1 "
                           "--batches-per-epoch 3 --threads 1";
  const Result first = run(plan + " --out " + (dir_ / "bench").string());
  ASSERT_EQ(first.code, 0) << first.out;
  EXPECT_NE(first.out.find("[2/2] clipclap-seed43: test"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("clipclap  "), std::string::npos) << first.out;  // the table's row
  EXPECT_TRUE(fs::exists(dir_ / "bench" / "results.md"));
  const Result again = run(plan + " --out " + (dir_ / "bench").string());
  ASSERT_EQ(again.code, 0) << again.out;
  EXPECT_NE(again.out.find("[1/2] clipclap-seed42: finished earlier"), std::string::npos) << again.out;
  EXPECT_EQ(again.out.find("training\n"), std::string::npos) << again.out;

  // Two shards in their own folders, then the table from both.
  const Result shard1 = run(plan + " --shard 1/2 --out " + (dir_ / "s1").string());
  ASSERT_EQ(shard1.code, 0) << shard1.out;
  EXPECT_NE(shard1.out.find("1 of 2 runs of the plan are finished"), std::string::npos) << shard1.out;
  expect_one_line_error(run("benchmark --collect " + (dir_ / "s1").string() + " --out " + (dir_ / "table").string()),
                        "1 of 2 runs are missing or unfinished: clipclap-seed43");
  ASSERT_EQ(run(plan + " --shard 2/2 --out " + (dir_ / "s2").string()).code, 0);
  const Result collected = run("benchmark --collect " + (dir_ / "s1").string() + " " + (dir_ / "s2").string() + " --out " +
                               (dir_ / "table").string());
  ASSERT_EQ(collected.code, 0) << collected.out;
  // The same numbers as the unsharded benchmark (all but the wall time, the last column).
  auto without_wall_time = [](const std::string& csv) {
    std::istringstream in(csv);
    std::string line, out;
    while (std::getline(in, line)) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  EXPECT_EQ(without_wall_time(io::read_file(dir_ / "table" / "results.csv")),
            without_wall_time(io::read_file(dir_ / "bench" / "results.csv")));
  expect_one_line_error(run("benchmark --data " + data().string() + " --methods clipclap,avca2"), "unknown method 'avca2'");
  expect_one_line_error(run(plan + " --shard 3/2"), "--shard");
}

TEST_F(Cli, TrainWritesACompleteRunAndEvaluatePrintsTheSameNumbers) {
  const Result train = run("train --data " + data().string() + " --out " + (dir_ / "run").string() + " " + quick());
  ASSERT_EQ(train.code, 0) << train.out;
  for (const char* f : {"config.json", "train.log", "stage1.safetensors", "stage1.json", "stage2.safetensors", "stage2.json",
                        "validation_metrics.csv", "test_per_class.csv", "results.json"}) {
    EXPECT_TRUE(fs::exists(dir_ / "run" / f)) << f;
  }
  EXPECT_FALSE(fs::exists(dir_ / "run.partial"));
  const auto results = nlohmann::json::parse(io::read_file(dir_ / "run" / "results.json"));
  EXPECT_TRUE(results.contains("test"));
  const Result evaluate = run("evaluate --run " + (dir_ / "run").string() + " --threads 1");
  ASSERT_EQ(evaluate.code, 0) << evaluate.out;
  // The header and the run's row are what training printed; below them comes the training-free
  // baseline, or why there is none (this dataset's visual features and CLIP text differ in size).
  auto first_two_lines = [](const std::string& text) {
    return text.substr(0, text.find('\n', text.find('\n') + 1) + 1);
  };
  EXPECT_EQ(first_two_lines(train.out.substr(train.out.find("\nrun ") + 1)), first_two_lines(evaluate.out));
  EXPECT_NE(evaluate.out.find("no training-free row: dataset 'synthetic-ucf': training-free scoring compares visual "
                              "features (24-d) with CLIP class text, which it has in 16 dimensions"),
            std::string::npos)
      << evaluate.out;
  // 2 stage-1 epochs + best_epoch + 1 stage-2 epochs, plus a header.
  const std::string csv = io::read_file(dir_ / "run" / "validation_metrics.csv");
  const int lines = static_cast<int>(std::count(csv.begin(), csv.end(), '\n'));
  EXPECT_EQ(lines, 1 + 2 + results["best_epoch"].get<int>() + 1);
  // The per-class table lists every test class once.
  const std::string per_class = io::read_file(dir_ / "run" / "test_per_class.csv");
  EXPECT_EQ(std::count(per_class.begin(), per_class.end(), '\n'), 1 + 42 + 9);
}

TEST_F(Cli, StageOneThenStageTwoEqualsAllAtOnce) {
  ASSERT_EQ(run("train --data " + data().string() + " --out " + (dir_ / "all").string() + " " + quick()).code, 0);
  ASSERT_EQ(run("train --stage 1 --data " + data().string() + " --out " + (dir_ / "split").string() + " " + quick()).code, 0);
  EXPECT_FALSE(nlohmann::json::parse(io::read_file(dir_ / "split" / "results.json")).contains("test"));
  const Result second = run("train --stage 2 --out " + (dir_ / "split").string() + " --threads 1");
  ASSERT_EQ(second.code, 0) << second.out;
  const auto a = nlohmann::json::parse(io::read_file(dir_ / "all" / "results.json"));
  const auto b = nlohmann::json::parse(io::read_file(dir_ / "split" / "results.json"));
  EXPECT_EQ(a["test"], b["test"]);
  // Same models bit for bit, and the same metrics except the timing column.
  EXPECT_EQ(io::read_file(dir_ / "all" / "stage2.safetensors"), io::read_file(dir_ / "split" / "stage2.safetensors"));
  auto without_seconds = [](const std::string& csv) {
    std::string out;
    std::istringstream in(csv);
    for (std::string line; std::getline(in, line);) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  EXPECT_EQ(without_seconds(io::read_file(dir_ / "all" / "validation_metrics.csv")),
            without_seconds(io::read_file(dir_ / "split" / "validation_metrics.csv")));
}

TEST_F(Cli, ConfigFileUsesTheSameKeysAndTheCommandLineWins) {
  io::write_file_atomically(dir_ / "c.json", std::string(R"({"epochs": 1, "batches-per-epoch": 3, "batch-size": 8, "modality": "audio", "threads": 1})"));
  const Result r = run("train --config " + (dir_ / "c.json").string() + " --data " + data().string() + " --out " +
                       (dir_ / "run").string() + " --epochs 2");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto config = nlohmann::json::parse(io::read_file(dir_ / "run" / "config.json"));
  EXPECT_EQ(config["epochs"], 2);
  EXPECT_EQ(config["modality"], "audio");
  EXPECT_EQ(config["labels"], "clap");  // the text half that matches audio
  EXPECT_EQ(config["batches-per-epoch"], 3);
}

TEST_F(Cli, BadInputGivesOneLineErrorsAndNoRunDirectory) {
  const std::string out = " --out " + (dir_ / "run").string() + " " + quick();
  expect_one_line_error(run("train --data " + (dir_ / "nowhere").string() + out), "dataset directory not found");
  expect_one_line_error(run("train --data " + data().string() + out + " --modality smell"), "unknown modality 'smell'");
  expect_one_line_error(run("train --data " + data().string() + out + " --labels word2vec"), "unknown label source");
  expect_one_line_error(run("train --data " + data().string() + out + " --losses ce,kl"), "unknown loss 'kl'");
  expect_one_line_error(run("train --data " + data().string() + out + " --stage 3"), "--stage must be 1, 2 or all");
  expect_one_line_error(run("train --data " + data().string() + " --out " + (dir_ / "run").string() + " --batch-size 1"),
                        "--batch-size must be between 2 (BatchNorm needs two samples) and 65536");
  io::write_file_atomically(dir_ / "bad.json", std::string(R"({"epoch": 3})"));
  expect_one_line_error(run("train --config " + (dir_ / "bad.json").string() + " --data " + data().string() + out),
                        "unknown key 'epoch'");
  // NaN in a feature file.
  {
    const fs::path file = data() / "videos" / "stage_2_test_seen.safetensors";
    io::SafetensorsFile f(file);
    torch::Tensor visual = f.tensor("visual"), audio = f.tensor("audio"), label = f.tensor("label");
    visual[0][0] = std::numeric_limits<float>::infinity();
    io::save_safetensors(file, {{"visual", visual}, {"audio", audio}, {"label", label}});
  }
  expect_one_line_error(run("train --data " + data().string() + out), "stage_2_test_seen.safetensors: visual features holds NaN or Inf");
  EXPECT_FALSE(fs::exists(dir_ / "run"));
  EXPECT_FALSE(fs::exists(dir_ / "run.partial"));
}

TEST_F(Cli, UnwritableOutputDirectoryFailsBeforeTraining) {
  io::write_file_atomically(dir_ / "file", std::string("x"));
  expect_one_line_error(run("train --data " + data().string() + " --out " + (dir_ / "file" / "run").string() + " " + quick()),
                        "cannot create directory");
  ASSERT_EQ(run("train --data " + data().string() + " --out " + (dir_ / "run").string() + " " + quick()).code, 0);
  expect_one_line_error(run("train --data " + data().string() + " --out " + (dir_ / "run").string() + " " + quick()),
                        "already exists");
}

TEST_F(Cli, EvaluateAndStageTwoNeedARun) {
  expect_one_line_error(run("evaluate --run " + (dir_ / "none").string()), "run directory not found");
  fs::create_directories(dir_ / "empty");
  expect_one_line_error(run("train --stage 2 --out " + (dir_ / "empty").string()), "stage1.json: not found");
}

TEST_F(Cli, SynthWritesALoadableDataset) {
  const Result r = run("synth --out " + (dir_ / "s").string() + " --seed 2 --videos-scale 0.05");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("51 classes"), std::string::npos);
  EXPECT_EQ(data::load_dataset(dir_ / "s").num_classes(), 51);
}

TEST_F(Cli, AblateRunsEveryRowOverSeedsAndWritesJson) {
  const Result r = run("ablate --data " + data().string() + " --epochs 1 --batches-per-epoch 3 --batch-size 8 --threads 1 --seeds 2 --json " +
                       (dir_ / "ablation.json").string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* row : {"modality: audio", "modality: visual", "modality: both", "labels: clip", "labels: clap", "labels: both",
                          "losses: reg ", "losses: reg+ce ", "losses: reg+ce+rec"}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("±"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[7/7]"), std::string::npos) << r.out;  // 9 rows, 7 distinct configurations
  const auto json = nlohmann::json::parse(io::read_file(dir_ / "ablation.json"));
  ASSERT_EQ(json.size(), 9u);
  EXPECT_EQ(json[0]["runs"].size(), 2u);
  EXPECT_EQ(json[2]["runs"], json[5]["runs"]);  // the full model, shared between families
  EXPECT_EQ(json[0]["config"]["labels"], "clap");
}

TEST_F(Cli, UnknownVerbOrOptionIsAUsageError) {
  EXPECT_NE(run("fly").code, 0);
  EXPECT_NE(run("train --data x --out y --no-such-option").code, 0);
}

// The reference's release and checkpoints through the command line: import, train on it,
// import the trained models, export back.
TEST_F(Cli, ImportClipClapThenCheckpointThenExport) {
  const fs::path release = testing::fixture_dir() / "clipclap_release";
  const fs::path native = dir_ / "imported";
  const Result imported = run("import-clipclap --root " + (release / "release_p2/UCF").string() + " --dataset UCF --out " +
                              native.string());
  ASSERT_EQ(imported.code, 0) << imported.out;
  EXPECT_NE(imported.out.find("stage_2_test_unseen     2 classes,      8 videos"), std::string::npos) << imported.out;
  EXPECT_NE(imported.out.find("note: stage_2_test_unseen: left out 4 videos"), std::string::npos) << imported.out;
  EXPECT_TRUE(fs::exists(native / "manifest.json"));

  const Result ckpt = run("import-checkpoint --data " + native.string() + " --stage1 " +
                          (release / "ClipClap_model_stage1.pt").string() + " --stage2 " +
                          (release / "ClipClap_model_stage2.pt").string() + " --out " + (dir_ / "run").string());
  ASSERT_EQ(ckpt.code, 0) << ckpt.out;
  const Result evaluate = run("evaluate --run " + (dir_ / "run").string() + " --threads 1");
  ASSERT_EQ(evaluate.code, 0) << evaluate.out;
  EXPECT_NE(evaluate.out.find("UCF (test)"), std::string::npos) << evaluate.out;

  const Result exported = run("export --format clipclap --data " + native.string() + " --out " + (dir_ / "release").string());
  ASSERT_EQ(exported.code, 0) << exported.out;
  EXPECT_TRUE(fs::exists(dir_ / "release/features/cls_features_non_averaged/video/stage_1_train/Archery.pkl"));
  EXPECT_TRUE(fs::exists(dir_ / "release/class-split/cls_split/stage_2_test_unseen.txt"));

  // Python's own pickle and numpy read the export, where Debian's python3-numpy is installed.
  if (std::system("/usr/bin/python3 -c 'import numpy' > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3-numpy is absent: the export was not checked with Python";
  }
  const std::string script = (testing::fixture_dir() / "read_release_like_reference.py").string();
  FILE* pipe = ::popen(("/usr/bin/python3 " + script + " " + (dir_ / "release").string() + " 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string py;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) py.append(buffer.data(), n);
  ASSERT_EQ(::pclose(pipe), 0) << py;
  const auto counts = nlohmann::json::parse(py);
  EXPECT_EQ(counts["video/stage_1_train"], 8);
  EXPECT_EQ(counts["audio/stage_2_test_unseen"], 8);
  EXPECT_EQ(counts["text"], 7);
  EXPECT_EQ(counts["dims"], nlohmann::json::parse("[6, 8]"));
}

TEST_F(Cli, ImportErrorsAreOneLineAndLeaveNothingBehind) {
  const fs::path release = testing::fixture_dir() / "clipclap_release/release_p4/UCF";
  expect_one_line_error(run("import-clipclap --root " + (dir_ / "nowhere").string() + " --dataset UCF --out " +
                            (dir_ / "x").string()), "release root not found");
  expect_one_line_error(run("import-clipclap --root " + release.string() + " --dataset Kinetics --out " + (dir_ / "x").string()),
                        "unknown release dataset 'Kinetics'");
  expect_one_line_error(run("import-clipclap --root " + release.string() + " --dataset UCF --split main_split --out " +
                            (dir_ / "x").string()), "main_split/stage_1_train.txt: file not found");
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  EXPECT_FALSE(fs::exists(dir_ / "x.partial"));
  expect_one_line_error(run("import-checkpoint --data " + data().string() + " --stage1 " + (dir_ / "none.pt").string() +
                            " --stage2 " + (dir_ / "none.pt").string() + " --out " + (dir_ / "run").string()),
                        "none.pt: file not found");
  // The fixture checkpoints were trained on 14-d inputs; this dataset has others.
  const fs::path pt = testing::fixture_dir() / "clipclap_release/ClipClap_model_stage1.pt";
  expect_one_line_error(run("import-checkpoint --data " + data().string() + " --stage1 " + pt.string() + " --stage2 " +
                            pt.string() + " --out " + (dir_ / "run").string()), "ClipClap_model_stage1.pt: tensor");
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

// Videos of 3 classes, a tiny CLIP, and the extract command line for them.
class CliExtract : public ::testing::Test {
 protected:
  // The videos and the model are made once for the suite; each test writes into its own dir_.
  static void SetUpTestSuite() {
    if (!testing::have_ffmpeg()) return;
    inputs_ = new testing::TempDir();
    for (const std::string c : {"red", "green", "blue"}) {
      for (int i = 0; i < 12; ++i) {
        testing::make_test_video(inputs_->path() / "videos" / c / (c + std::to_string(i) + ".mp4"), c, 0.5, 32 + 2 * i, 24);
      }
    }
    testing::write_tiny_clip_dir(inputs_->path() / "clip", 3);
  }
  static void TearDownTestSuite() {
    delete inputs_;
    inputs_ = nullptr;
  }
  void SetUp() override {
    if (!testing::have_ffmpeg()) GTEST_SKIP() << "ffmpeg is not on the PATH";
    fs::create_symlink(inputs_->path() / "videos", dir_ / "videos");
    fs::create_symlink(inputs_->path() / "clip", dir_ / "clip");
  }
  std::vector<std::string> extract_args(const std::string& out) const {
    return {"extract", "--videos", (dir_ / "videos").string(), "--clip", (dir_ / "clip").string(), "--out",
            (dir_ / out).string(), "--threads", "1", "--frames", "4", "--batch-size", "8", "--chunk-size", "1"};
  }
  static std::string joined(const std::vector<std::string>& args) {
    std::string s;
    for (const std::string& a : args) s += (s.empty() ? "" : " ") + a;
    return s;
  }
  size_t chunks(const std::string& store) const {
    if (!fs::is_directory(dir_ / store / "chunks")) return 0;
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_ / store / "chunks")) n += e.path().extension() == ".safetensors";
    return n;
  }
  testing::TempDir dir_;
  static testing::TempDir* inputs_;
};
testing::TempDir* CliExtract::inputs_ = nullptr;

TEST_F(CliExtract, KilledAndRestartedLosesAndDuplicatesNothing) {
  const Result uninterrupted = run(joined(extract_args("reference")));
  ASSERT_EQ(uninterrupted.code, 0) << uninterrupted.out;

  std::vector<std::string> args = extract_args("resumed");
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<char*> argv = {const_cast<char*>(AVGZSL_CLI_PATH)};
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execv(AVGZSL_CLI_PATH, argv.data());
    ::_exit(127);
  }
  // Kill it (SIGKILL: no chance to clean up) once a few chunks are on disk.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (chunks("resumed.store") < 4 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the job ended before it could be killed";
  const size_t at_kill = chunks("resumed.store");
  EXPECT_GE(at_kill, 4u);
  EXPECT_LT(at_kill, 36u);
  EXPECT_FALSE(fs::exists(dir_ / "resumed/manifest.json"));

  const Result resumed = run(joined(args));
  ASSERT_EQ(resumed.code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("done before, resuming"), std::string::npos) << resumed.out;
  const data::Dataset a = data::load_dataset(dir_ / "reference"), b = data::load_dataset(dir_ / "resumed");
  size_t videos = 0;
  for (const char* split : data::kVideoSplitNames) {
    EXPECT_EQ(a.video_split(split).video_ids, b.video_split(split).video_ids) << split;
    // Equal up to float rounding: a video's row may be computed in a batch of another size.
    EXPECT_TRUE(torch::allclose(a.video_split(split).visual, b.video_split(split).visual, 0, 1e-6)) << split;
    videos += b.video_split(split).video_ids.size();
  }
  EXPECT_EQ(videos, 36u);
}

TEST_F(CliExtract, ShardsThenMergeAndOneLineErrors) {
  for (int k = 1; k <= 2; ++k) {
    std::vector<std::string> args = extract_args("shard" + std::to_string(k));
    args.push_back("--shard");
    args.push_back(std::to_string(k) + "/2");
    const Result r = run(joined(args));
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_NE(r.out.find("shard " + std::to_string(k) + "/2 complete"), std::string::npos) << r.out;
  }
  const Result merged = run("merge " + (dir_ / "shard1").string() + " " + (dir_ / "shard2").string() + " --out " +
                            (dir_ / "merged").string());
  ASSERT_EQ(merged.code, 0) << merged.out;
  EXPECT_NE(merged.out.find("36 videos"), std::string::npos) << merged.out;
  // Three classes split automatically leave one to train on: refused in one line, no stack trace.
  expect_one_line_error(run("train --data " + (dir_ / "merged").string() + " --out " + (dir_ / "run").string() +
                            " --modality visual --epochs 1 --threads 1"),
                        "stage_1_train has 1 class; training needs at least 2");
  EXPECT_FALSE(fs::exists(dir_ / "run"));
  expect_one_line_error(run("merge " + (dir_ / "shard1").string() + " --out " + (dir_ / "half").string()),
                        "shard 2/2 of this job is missing");
  EXPECT_FALSE(fs::exists(dir_ / "half"));
  expect_one_line_error(run("extract --videos " + (dir_ / "nothing").string() + " --clip " + (dir_ / "clip").string() +
                            " --out " + (dir_ / "x").string()),
                        "no such folder or CSV file");
  expect_one_line_error(run(joined(extract_args("y")) + " --shard 3/2"), "--shard");

  // embed-classes: the reference's .npy dict, readable by numpy when it is installed.
  std::ofstream(dir_ / "names.txt") << "playing guitar\ndog barking\n";
  const Result embedded = run("embed-classes --names " + (dir_ / "names.txt").string() + " --clip " + (dir_ / "clip").string() +
                              " --templates vggsound --out " + (dir_ / "text.npy").string());
  ASSERT_EQ(embedded.code, 0) << embedded.out;
  EXPECT_NE(embedded.out.find("clip: 2 classes x 16 (8 templates from builtin:vggsound/clip)"), std::string::npos) << embedded.out;
  if (testing::run_shell("/usr/bin/python3 -c 'import numpy' 2>/dev/null")) {
    EXPECT_TRUE(testing::run_shell("/usr/bin/python3 -c \"import numpy as np; d = np.load('" + (dir_ / "text.npy").string() +
                                   "', allow_pickle=True).item(); assert sorted(d) == ['dog barking', 'playing guitar']; "
                                   "assert abs(np.linalg.norm(d['dog barking']) - 1) < 1e-5\""));
  }
}

// Issue 13's probe, item by item: each case failed (or hung, or crashed) before its fix.
TEST_F(CliExtract, FramesAreBoundedAndAVideoWithFewerFramesIsAnError) {
  const std::string red = (dir_ / "videos/red/red0.mp4").string();   // 0.5 s at 10 fps: 5 frames
  const std::string models = " --clip " + (dir_ / "clip").string() + " --threads 1 --classes red,blue";
  // --frames 100000 grew past 24 GB before: now refused before anything is decoded.
  expect_one_line_error(run("predict " + red + models + " --frames 100000"), "--frames must be between 1 and 256, got 100000");
  expect_one_line_error(run("predict " + red + models + " --frames 0"), "--frames must be between 1 and 256, got 0");
  const Result few = run("predict " + red + models + " --frames 200 --json");
  EXPECT_NE(few.code, 0);
  const nlohmann::json j = nlohmann::json::parse(few.out.substr(0, few.out.find("\nerror: ") + 1));
  EXPECT_NE(j["videos"][0]["error"].get<std::string>().find("has 5 frames, fewer than the 200 evenly spaced frames asked for"),
            std::string::npos);
  expect_one_line_error(run(joined(extract_args("ds")) + " --decoders 1000"), "--decoders must be between 1 and 256");
}

TEST_F(CliExtract, OutputsAreCheckedBeforeAnyWork) {
  testing::write_text_file(dir_ / "afile", "not a folder");
  // It used to extract every video, then fail, leaving afile.store/.
  std::vector<std::string> args = extract_args("afile");
  expect_one_line_error(run(joined(args)), "afile: exists and is not a directory");
  EXPECT_FALSE(fs::exists(dir_ / "afile.store"));
  fs::create_directories(dir_ / "adir.npy");
  expect_one_line_error(run("embed-classes --names " + (dir_ / "afile").string() + " --clip " + (dir_ / "clip").string() +
                            " --out " + (dir_ / "adir.npy").string()), "adir.npy: is a directory");
}

TEST_F(CliExtract, AnAutomaticSplitThatCannotBeFilledIsRefusedBeforeExtracting) {
  // Five classes, two of them with two videos: the automatic split cannot give every seen class
  // a training, a validation and a test video.
  for (const std::string c : {"a", "b", "c", "d", "e"}) {
    for (int i = 0; i < 2; ++i) {
      fs::create_directories(dir_ / "few" / c);
      fs::create_symlink(inputs_->path() / "videos/red/red0.mp4", dir_ / "few" / c / (c + std::to_string(i) + ".mp4"));
    }
  }
  std::vector<std::string> args = extract_args("ds");
  args[2] = (dir_ / "few").string();
  const Result r = run(joined(args));
  expect_one_line_error(r, "the split plan (automatic) leaves no video in stage_1_val_seen");
  EXPECT_NE(r.out.find("a seen class needs at least 3 videos"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("--splits DIR"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("extract: "), std::string::npos) << "refused before any extraction: " << r.out;
}

TEST_F(CliExtract, ConfigSizesAndNonFiniteWeightsAreNamedBeforeAnyAllocation) {
  const fs::path clip = dir_ / "clip_copy";
  fs::create_directories(clip);
  for (const auto& e : fs::directory_iterator(dir_ / "clip")) fs::copy_file(e.path(), clip / e.path().filename());
  const nlohmann::json config = nlohmann::json::parse(io::read_file(clip / "config.json"));
  const std::string predict = "predict " + (dir_ / "videos/red/red0.mp4").string() + " --classes red,blue --threads 1 --clip " + clip.string();
  auto with = [&](const std::string& section, const std::string& field, const nlohmann::json& value) {
    nlohmann::json edited = config;
    edited[section][field] = value;
    io::write_file_atomically(clip / "config.json", edited.dump());
  };
  with("vision_config", "hidden_size", 1000000000);   // LibTorch's "you tried to allocate 3072000000000 bytes" before
  expect_one_line_error(run(predict), "config.json vision_config: field 'hidden_size' is 1000000000, more than any model has");
  with("text_config", "num_hidden_layers", 100000);   // 5 GB allocated before
  expect_one_line_error(run(predict), "config.json text_config: field 'num_hidden_layers' is 100000");
  with("text_config", "num_hidden_layers", config["text_config"]["num_hidden_layers"].get<int>() + 1);
  expect_one_line_error(run(predict), "config.json: text_config.num_hidden_layers is");
  io::write_file_atomically(clip / "config.json", config.dump());
  ASSERT_EQ(run(predict).code, 0);

  // A NaN weight printed `nan` scores with exit 0 before.
  io::NamedTensors tensors;
  {
    const io::SafetensorsFile file(clip / "model.safetensors");
    for (const std::string& name : file.names()) tensors.emplace_back(name, file.tensor(name).clone());
  }
  for (auto& [name, t] : tensors) {
    if (name == "visual_projection.weight") t[0][1] = std::numeric_limits<float>::quiet_NaN();
  }
  io::save_safetensors(clip / "model.safetensors", tensors);
  expect_one_line_error(run(predict), "model.safetensors: tensor 'visual_projection.weight' holds 1 NaN or infinite values");
}

TEST_F(CliExtract, FfmpegsOwnMessagesAppearOnlyWithVerbose) {
  // An MP4 whose index (at the end) is cut off: FFmpeg itself says "moov atom not found".
  const fs::path cut = dir_ / "cut.mp4";
  {
    const std::string bytes = io::read_file(dir_ / "videos/red/red0.mp4");
    testing::write_text_file(cut, bytes.substr(0, bytes.size() / 2));
  }
  const std::string predict = "predict " + cut.string() + " --classes red,blue --threads 1 --clip " + (dir_ / "clip").string();
  const Result quiet = run(predict);
  EXPECT_NE(quiet.code, 0);
  EXPECT_EQ(quiet.out.find("moov atom"), std::string::npos) << quiet.out;
  const Result verbose = run(predict + " --verbose");
  EXPECT_NE(verbose.out.find("ffmpeg: [mov,mp4,m4a,3gp,3g2,mj2 @ "), std::string::npos) << verbose.out;
  EXPECT_NE(verbose.out.find("moov atom not found"), std::string::npos) << verbose.out;
}

TEST_F(CliExtract, PredictRanksClassNamesGivenAtTheCallTrainingFree) {
  testing::write_tiny_hf_clap_dir(dir_ / "clap", 5);
  const std::string models = " --clip " + (dir_ / "clip").string() + " --clap " + (dir_ / "clap").string() + " --threads 1";
  const std::string red = (dir_ / "videos/red/red0.mp4").string(), blue = (dir_ / "videos/blue/blue1.mp4").string();
  const std::string command = "predict " + red + " " + blue + " --classes 'red car, green tree,blue sky' --json" + models;
  const Result a = run(command);
  ASSERT_EQ(a.code, 0) << a.out;
  const nlohmann::json j = nlohmann::json::parse(a.out);
  EXPECT_EQ(j["mode"], "training-free");
  EXPECT_EQ(j["modalities"], "visual+audio");
  ASSERT_EQ(j["videos"].size(), 2u);
  for (const auto& v : j["videos"]) {
    EXPECT_TRUE(v["has_audio"].get<bool>());
    ASSERT_EQ(v["top"].size(), 3u);  // top-k 5, three classes
    double sum = 0, previous = 2;
    for (const auto& c : v["top"]) {
      const double score = c["score"].get<double>();
      EXPECT_LE(score, previous);
      previous = score;
      sum += score;
    }
    EXPECT_NEAR(sum, 1.0, 1e-5);  // fused probabilities over the given classes
  }
  EXPECT_EQ(j["videos"][0]["video"], red);
  EXPECT_EQ(run(command).out, a.out);  // deterministic

  // A class's score does not depend on where it stands in the list.
  const Result b = run("predict " + red + " --classes 'blue sky,red car,green tree' --json" + models);
  ASSERT_EQ(b.code, 0) << b.out;
  std::map<std::string, double> first, second;
  for (const auto& c : j["videos"][0]["top"]) first[c["class"]] = c["score"];
  const nlohmann::json reordered = nlohmann::json::parse(b.out);
  for (const auto& c : reordered["videos"][0]["top"]) second[c["class"]] = c["score"];
  ASSERT_EQ(second.size(), 3u);
  for (const auto& [name, score] : first) EXPECT_NEAR(second[name], score, 1e-6) << name;

  // Text output, --top-k; CLIP alone scores the frames only.
  const Result text = run("predict " + red + " --classes 'red car,green tree' --top-k 1" + models);
  ASSERT_EQ(text.code, 0) << text.out;
  EXPECT_NE(text.out.find("  1. "), std::string::npos) << text.out;
  EXPECT_EQ(text.out.find("  2. "), std::string::npos) << text.out;
  const Result visual = run("predict " + red + " --classes 'a,b' --json --threads 1 --clip " + (dir_ / "clip").string());
  ASSERT_EQ(visual.code, 0) << visual.out;
  EXPECT_EQ(nlohmann::json::parse(visual.out)["modalities"], "visual");

  // An unreadable video: the readable one is answered, the command still fails.
  std::ofstream(dir_ / "broken.mp4") << "not a video";
  const Result broken = run("predict " + red + " " + (dir_ / "broken.mp4").string() + " --classes 'a,b' --json" + models);
  EXPECT_NE(broken.code, 0);
  EXPECT_NE(broken.out.find("\"top\""), std::string::npos) << broken.out;
  EXPECT_NE(broken.out.find("broken.mp4"), std::string::npos) << broken.out;
  EXPECT_NE(broken.out.find("error: 1 of 2 videos could not be read"), std::string::npos) << broken.out;

  expect_one_line_error(run("predict " + red + " --classes 'a,,b'" + models), "empty class name");
  expect_one_line_error(run("predict " + red + " --classes 'a,b,a'" + models), "'a' is given twice");
  expect_one_line_error(run("predict " + red + " --classes 'a'" + models), "at least two classes");
  expect_one_line_error(run("predict " + red + models), "--classes");
  expect_one_line_error(run("predict " + red + " --classes a,b --clip " + (dir_ / "clip").string() + " --clap " +
                            (dir_ / "nothing").string()),
                        "nothing: no such CLAP model folder");
}

TEST_F(CliExtract, AudioVisualDatasetTrainedRunPredictsAndEvaluatesBesideTheTrainingFreeBaseline) {
  testing::write_tiny_hf_clap_dir(dir_ / "clap", 5);
  const std::string clap = (dir_ / "clap").string();
  // Four classes, so that the automatic split trains on two.
  for (const char* c : {"red", "green", "blue"}) {
    fs::create_directories(dir_ / "videos4");
    fs::create_symlink(inputs_->path() / "videos" / c, dir_ / "videos4" / c);
  }
  for (int i = 0; i < 6; ++i) {
    testing::make_test_video(dir_ / "videos4/yellow" / ("yellow" + std::to_string(i) + ".mp4"), "yellow", 0.5, 32, 24);
  }
  std::vector<std::string> args = extract_args("av");
  args[2] = (dir_ / "videos4").string();
  *std::find(args.begin(), args.end(), "8") = "1";  // --frames 1
  for (const char* a : {"--clap", clap.c_str()}) args.push_back(a);
  const Result extracted = run(joined(args));
  ASSERT_EQ(extracted.code, 0) << extracted.out;
  const data::Dataset av = data::load_dataset(dir_ / "av");
  EXPECT_EQ(av.audio_dim, 12);
  EXPECT_EQ(av.clap_dim, 12);

  const Result trained = run("train --data " + (dir_ / "av").string() + " --out " + (dir_ / "run").string() +
                             " --epochs 2 --batches-per-epoch 5 --batch-size 16 --threads 1");
  ASSERT_EQ(trained.code, 0) << trained.out;
  const std::string red = (dir_ / "videos/red/red3.mp4").string();
  const Result predicted = run("predict " + red + " --classes 'red,green,blue,purple' --json --run " + (dir_ / "run").string() +
                               " --clip " + (dir_ / "clip").string() + " --clap " + clap + " --threads 1");
  ASSERT_EQ(predicted.code, 0) << predicted.out;
  const nlohmann::json j = nlohmann::json::parse(predicted.out);
  EXPECT_EQ(j["mode"], "run");
  EXPECT_EQ(j["modalities"], "visual+audio");
  ASSERT_EQ(j["videos"][0]["top"].size(), 4u);
  for (const auto& c : j["videos"][0]["top"]) EXPECT_LE(c["score"].get<double>(), 0.0);  // -distance
  // A run on audio needs the CLAP model.
  expect_one_line_error(run("predict " + red + " --classes a,b --run " + (dir_ / "run").string() + " --clip " +
                            (dir_ / "clip").string()),
                        "give --clap");

  // A run of another method predicts and evaluates the same way, and is not taken for a third.
  const Result avca = run("train --method avca --data " + (dir_ / "av").string() + " --out " + (dir_ / "run-avca").string() +
                          " --epochs 1 --batches-per-epoch 3 --batch-size 16 --threads 1");
  ASSERT_EQ(avca.code, 0) << avca.out;
  const Result avca_predicted = run("predict " + red + " --classes 'red,green,blue,purple' --json --run " +
                                    (dir_ / "run-avca").string() + " --clip " + (dir_ / "clip").string() + " --clap " + clap +
                                    " --threads 1");
  ASSERT_EQ(avca_predicted.code, 0) << avca_predicted.out;
  EXPECT_EQ(nlohmann::json::parse(avca_predicted.out)["videos"][0]["top"].size(), 4u);
  const Result avca_evaluated = run("evaluate --run " + (dir_ / "run-avca").string() + " --method avca --threads 1");
  ASSERT_EQ(avca_evaluated.code, 0) << avca_evaluated.out;
  EXPECT_NE(avca_evaluated.out.find("videos4 avca (test)"), std::string::npos) << avca_evaluated.out;
  expect_one_line_error(run("evaluate --run " + (dir_ / "run-avca").string() + " --method cjme --no-baseline"),
                        "a run of method avca, not cjme");

  const Result both = run("evaluate --run " + (dir_ / "run").string() + " --threads 1");
  ASSERT_EQ(both.code, 0) << both.out;
  EXPECT_NE(both.out.find("videos4 (test)"), std::string::npos) << both.out;
  EXPECT_NE(both.out.find("videos4 training-free (test)"), std::string::npos) << both.out;
  const Result baseline = run("evaluate --data " + (dir_ / "av").string() + " --threads 1");
  ASSERT_EQ(baseline.code, 0) << baseline.out;
  EXPECT_NE(baseline.out.find("videos4 training-free (test)"), std::string::npos) << baseline.out;
  EXPECT_EQ(baseline.out.find("videos4 (test)"), std::string::npos) << baseline.out;

  // embed-classes writes both halves of the class vector.
  std::ofstream(dir_ / "names.txt") << "playing guitar\ndog barking\n";
  const Result embedded = run("embed-classes --names " + (dir_ / "names.txt").string() + " --clip " + (dir_ / "clip").string() +
                              " --clap " + clap + " --out " + (dir_ / "text.safetensors").string());
  ASSERT_EQ(embedded.code, 0) << embedded.out;
  EXPECT_NE(embedded.out.find("clap: 2 classes x 12 (30 templates from builtin:ucf/clap)"), std::string::npos) << embedded.out;
  const io::SafetensorsFile text(dir_ / "text.safetensors");
  EXPECT_EQ(text.tensor("clap").size(1), 12);
  EXPECT_EQ(text.tensor("clip").size(1), 16);
  expect_one_line_error(run("embed-classes --names " + (dir_ / "names.txt").string() + " --clip " + (dir_ / "clip").string() +
                            " --clap " + clap + " --out " + (dir_ / "text.npy").string()),
                        "one encoder");
}

// What headless Chromium reports of a page: its console messages (Chromium logs each one as
// "...:INFO:CONSOLE:<line>] "<message>", source: ...") and the screenshot's file.
struct BrowserLoad {
  int code = -1;
  std::vector<std::string> console;
  fs::path screenshot;
};

std::string chromium_path() {
  for (const char* candidate : {"/usr/bin/chromium", "/usr/bin/chromium-browser"}) {
    if (fs::exists(candidate)) return candidate;
  }
  return "";
}

BrowserLoad load_in_browser(const fs::path& page, const fs::path& screenshot, int width, int height) {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  const std::string command = fmt::format(
      "timeout 120 {} --headless --no-sandbox --disable-gpu --hide-scrollbars --enable-logging=stderr --v=0 "
      "--window-size={},{} --screenshot={} file://{} 2>&1",
      chromium_path(), width, height, screenshot.string(), fs::absolute(page).string());
  BrowserLoad load;
  load.screenshot = screenshot;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return load;
  std::string out;
  std::array<char, 4096> buffer{};
  for (size_t n; (n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) out.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  load.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(":CONSOLE") != std::string::npos) load.console.push_back(line);
  }
  return load;
}

// The screenshot's size, and how much of it is drawn: the share of pixels that are not white and
// whether a given colour (a palette colour of the figures) appears.
struct Screenshot {
  int width = 0, height = 0;
  double drawn_share = 0;
  size_t colours = 0;
  bool has_colour(uint32_t rgb) const { return seen.count(rgb) > 0; }
  std::set<uint32_t> seen;
};

Screenshot read_screenshot(const fs::path& png) {
  Screenshot s;
  cairo_surface_t* image = cairo_image_surface_create_from_png(png.c_str());
  if (cairo_surface_status(image) == CAIRO_STATUS_SUCCESS) {
    s.width = cairo_image_surface_get_width(image);
    s.height = cairo_image_surface_get_height(image);
    const int stride = cairo_image_surface_get_stride(image);
    const unsigned char* data = cairo_image_surface_get_data(image);
    int64_t drawn = 0;
    for (int y = 0; y < s.height; ++y) {
      const auto* row = reinterpret_cast<const uint32_t*>(data + static_cast<ptrdiff_t>(y) * stride);
      for (int x = 0; x < s.width; ++x) {
        const uint32_t rgb = row[x] & 0xFFFFFFu;
        drawn += rgb != 0xFFFFFFu;
        s.seen.insert(rgb);
      }
    }
    s.drawn_share = s.width * s.height == 0 ? 0 : static_cast<double>(drawn) / (static_cast<double>(s.width) * s.height);
    s.colours = s.seen.size();
  }
  cairo_surface_destroy(image);
  return s;
}

TEST_F(Cli, TheReportPageLoadsInAHeadlessBrowserWithoutAConsoleMessage) {
  if (chromium_path().empty()) GTEST_SKIP() << "chromium is not installed (scripts/install_dependencies.sh --tests installs it)";
  const fs::path run_dir = dir_ / "run";
  ASSERT_EQ(run("train --data " + data().string() + " --out " + run_dir.string() + " " + quick()).code, 0);
  const Result report = run("report --run " + run_dir.string() + " --out " + (dir_ / "report.html").string() +
                            " --tsne-per-class 8 --tsne-perplexity 5 --threads 1");
  ASSERT_EQ(report.code, 0) << report.out;
  EXPECT_NE(report.out.find("wrote " + (dir_ / "report.html").string() + " and 10 figure files"), std::string::npos) << report.out;
  // The page alone, in a folder of its own: it needs no other file.
  fs::create_directories(dir_ / "alone");
  fs::copy_file(dir_ / "report.html", dir_ / "alone" / "report.html");
  const BrowserLoad load = load_in_browser(dir_ / "alone" / "report.html", dir_ / "shot.png", 1000, 2400);
  ASSERT_EQ(load.code, 0);
  EXPECT_TRUE(load.console.empty()) << load.console.front();
  const Screenshot shot = read_screenshot(load.screenshot);
  EXPECT_EQ(shot.width, 1000);
  EXPECT_EQ(shot.height, 2400);
  // Not blank: text, axes and coloured marks (Tol's indigo and rose: seen and unseen classes).
  EXPECT_GT(shot.drawn_share, 0.03);
  EXPECT_GT(shot.colours, 50u);
  EXPECT_TRUE(shot.has_colour(0x332288)) << "no seen-class indigo";
  EXPECT_TRUE(shot.has_colour(0xCC6677)) << "no unseen-class rose";

  // The check can fail: a page with a script error is caught, and a blank page is blank.
  io::write_file_atomically(dir_ / "broken.html",
                            "<!DOCTYPE html><html><body><p>x</p><script>console.error('boom')</script></body></html>");
  const BrowserLoad broken = load_in_browser(dir_ / "broken.html", dir_ / "broken.png", 400, 300);
  ASSERT_EQ(broken.console.size(), 1u);
  EXPECT_NE(broken.console[0].find("boom"), std::string::npos);
  io::write_file_atomically(dir_ / "blank.html", "<!DOCTYPE html><html><body></body></html>");
  EXPECT_EQ(read_screenshot(load_in_browser(dir_ / "blank.html", dir_ / "blank.png", 400, 300).screenshot).drawn_share, 0.0);
}

TEST_F(Cli, TsneAndReportRefuseBadInputInOneLine) {
  const fs::path run_dir = dir_ / "run";
  ASSERT_EQ(run("train --data " + data().string() + " --out " + run_dir.string() + " " + quick()).code, 0);
  const std::string tsne = "tsne --run " + run_dir.string() + " --threads 1 ";
  expect_one_line_error(run(tsne + "--out " + (dir_ / "f.png").string() + " --per-class 0"), "--per-class must be at least 1, got 0");
  expect_one_line_error(run(tsne + "--out " + (dir_ / "f.png").string() + " --classes NoSuchClass"),
                        "unknown class 'NoSuchClass'");
  expect_one_line_error(run(tsne + "--out " + (dir_ / "f.gif").string()), "unknown figure format");
  expect_one_line_error(run(tsne + "--out /proc/f.png"), "/proc");
  EXPECT_FALSE(fs::exists(dir_ / "f.png"));
  expect_one_line_error(run("report --out " + (dir_ / "r.html").string()), "give one of --run, --ablation, --benchmark");
  expect_one_line_error(run("report --benchmark " + data().string() + " --out " + (dir_ / "r.html").string()),
                        "results.json: not found");
  // A figure in each format, with the shape its format promises.
  const Result pdf = run(tsne + "--out " + (dir_ / "f.pdf").string() + " --per-class 8 --perplexity 5");
  ASSERT_EQ(pdf.code, 0) << pdf.out;
  EXPECT_EQ(io::read_file(dir_ / "f.pdf").rfind("%PDF-", 0), 0u);
  ASSERT_EQ(run(tsne + "--out " + (dir_ / "f.png").string() + " --per-class 8 --perplexity 5").code, 0);
  EXPECT_GT(read_screenshot(dir_ / "f.png").drawn_share, 0.02);
}

}  // namespace
}  // namespace avgzsl
