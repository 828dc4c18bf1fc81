// Trains ClipClap with the two-stage protocol on a native dataset and prints the test row,
// then re-scores the saved run and the training-free baseline on the same dataset.
//
//   train_and_evaluate DATASET_DIR RUN_DIR [EPOCHS [BATCHES_PER_EPOCH]]
#include <avgzsl/training/training_free_baseline.h>
#include <avgzsl/training/training_run.h>
#include <avgzsl/util/threads.h>

#include <cstdio>
#include <exception>
#include <string>

int main(int argc, char** argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: %s DATASET_DIR RUN_DIR [EPOCHS [BATCHES_PER_EPOCH]]\n", argv[0]);
    return 2;
  }
  try {
    avgzsl::training::TrainConfig config;  // the paper's settings, chosen from the dataset name
    config.data = argv[1];
    if (argc > 3) config.epochs = std::stoi(argv[3]);
    if (argc > 4) config.batches_per_epoch = std::stoi(argv[4]);
    avgzsl::util::configure_threads(config.threads);

    // Lines meant for a user (per-epoch progress) go to this callback and to RUN_DIR/train.log.
    const auto quiet = [](const std::string&) {};
    const avgzsl::training::TrainRunResult trained = avgzsl::training::train_run(config, argv[2], quiet);

    const avgzsl::training::TrainingInputs inputs = avgzsl::training::prepare_training(config);
    const avgzsl::training::TrainRunResult again = avgzsl::training::evaluate_run(argv[2], inputs.dataset);
    const avgzsl::training::ProtocolSummary baseline = avgzsl::training::evaluate_training_free(inputs.dataset);

    std::printf("%s", avgzsl::training::format_result_table({{trained.dataset_name + " (trained)", {trained.summary}},
                                                            {"re-evaluated", {again.summary}},
                                                            {"training-free", {baseline}}})
                          .c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
