// The training loop written out, as a PyTorch user writes it: batches from a DataLoader, forward, loss, backward,
// an Adam step over model.parameters(); then inference under NoGrad. The exit status says whether the held-out loss
// fell below the untrained model's.
//
//   example_manual_loop [size=32] [steps=60] [batch=8]
#include <cstdio>
#include <cstdlib>

#include "autograd/autograd.h"  // Variable, NoGrad, the losses (sparse_categorical_crossentropy)
#include "data/loader.h"        // data::DataLoader
#include "data/split.h"         // data::all_indices
#include "data/synthetic.h"     // data::SyntheticDataset
#include "layers/layers.h"      // tg::unet, Model
#include "optim/adam.h"         // tg::Adam

using namespace tg;

int main(int argc, char** argv) {
  const int size = argc > 1 ? std::atoi(argv[1]) : 32;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 60;
  const int batch = argc > 3 ? std::atoi(argv[3]) : 8;
  if (size <= 0 || size % 4 != 0 || steps <= 0 || batch <= 0) {
    std::fprintf(stderr, "usage: example_manual_loop [size, a multiple of 4] [steps > 0] [batch > 0]\n");
    return 2;
  }
  const int num_classes = 3;
  Model model = unet({size, size, 1}, num_classes, /*base_filters=*/8, /*depth=*/2, /*dropout=*/0.0);
  AdamOptions adam;
  adam.learning_rate = 3e-3;
  Adam optimizer(model.parameters(), adam);

  data::SyntheticOptions synthetic{.count = 96, .height = size, .width = size, .num_classes = num_classes, .seed = 1};
  auto train_set = std::make_shared<data::SyntheticDataset>(synthetic);
  synthetic.count = 16;
  synthetic.seed = 2;
  const data::SyntheticDataset held_out(synthetic);
  data::LoaderOptions batches;
  batches.batch_size = batch;
  batches.seed = 1;
  data::DataLoader loader(train_set, data::all_indices(train_set->size()), batches);

  // The held-out images as one batch, scored without recording a graph.
  Tensor images({16, size, size, 1}), labels({16, size, size});
  for (int64_t i = 0; i < 16; ++i) {
    const data::Sample s = held_out.get(static_cast<size_t>(i));
    images.slice(i, i + 1).copy_from(s.image);
    labels.slice(i, i + 1).copy_from(s.labels);
  }
  auto held_out_loss = [&] {
    model.eval();
    NoGrad no_grad;
    return sparse_categorical_crossentropy(model(Variable(images)), labels).item();
  };
  const double before = held_out_loss();

  for (int step = 0; step < steps; ++step) {
    const data::Batch b = loader.next();
    model.train();
    optimizer.zero_grad();
    Variable probabilities = model(Variable(b.images));
    Variable loss = sparse_categorical_crossentropy(probabilities, b.labels);
    loss.backward();
    optimizer.step();
    if (step % 10 == 0 || step == steps - 1) std::printf("step %3d  loss %.4f\n", step, loss.item());
  }

  const double after = held_out_loss();
  std::printf("held-out loss %.4f -> %.4f: %s\n", before, after, after < before ? "fell" : "did NOT fall");
  return after < before ? 0 : 1;
}
