#include "layers/zoo.h"

#include "layers/layers.h"

namespace tg {

ModelGraph unet_graph(Shape input_shape, int num_classes, int base_filters, int depth, double dropout,
                      bool batch_norm, uint64_t seed) {
  if (input_shape.size() != 3)
    throw std::invalid_argument("unet: input_shape must be (height, width, channels), got " + shape_str(input_shape));
  if (num_classes < 1) throw std::invalid_argument("unet: num_classes must be at least 1");
  if (base_filters < 1) throw std::invalid_argument("unet: base_filters must be at least 1");
  if (depth < 1 || depth > 16) throw std::invalid_argument("unet: depth must be in [1, 16]");
  NameScope names;  // a fresh session's names: conv2d, conv2d_1, ...
  auto block = [&](SymbolicTensor x, int filters) {
    for (int i = 0; i < 2; ++i) {
      auto conv = Conv2D(filters, 3).padding("same").kernel_initializer("he_normal");
      x = batch_norm ? Activation("relu")(BatchNormalization()(conv(x))) : conv.activation("relu")(x);
    }
    return x;
  };
  const SymbolicTensor inputs = Input(std::move(input_shape));
  std::vector<SymbolicTensor> skips;
  SymbolicTensor x = inputs;
  for (int level = 0; level < depth; ++level) {  // contracting path
    x = block(x, base_filters << level);
    if (level == depth - 1 && dropout > 0) x = Dropout(dropout)(x);
    skips.push_back(x);
    x = MaxPooling2D(2)(x);
  }
  x = block(x, base_filters << depth);  // bottom
  if (dropout > 0) x = Dropout(dropout)(x);
  for (int level = depth - 1; level >= 0; --level) {  // expanding path
    const SymbolicTensor up = Conv2D(base_filters << level, 2)
                                  .activation("relu")
                                  .padding("same")
                                  .kernel_initializer("he_normal")(UpSampling2D(2)(x));
    x = block(concatenate({skips[level], up}, 3), base_filters << level);
  }
  const SymbolicTensor outputs = Conv2D(num_classes, 1).activation(num_classes >= 2 ? "softmax" : "sigmoid")(x);
  return {{inputs}, {outputs}, seed, "unet"};
}

Model unet(Shape input_shape, int num_classes, int base_filters, int depth, double dropout, bool batch_norm,
           uint64_t seed) {
  NameScope names;
  return Model(unet_graph(std::move(input_shape), num_classes, base_filters, depth, dropout, batch_norm, seed));
}

ModelGraph seed_autoencoder_graph(Shape input_shape, bool corrected, uint64_t seed, int base_filters,
                                  int output_channels, const std::string& output_activation) {
  if (input_shape.size() != 3)
    throw std::invalid_argument("seed_autoencoder: input_shape must be (height, width, channels), got " +
                                shape_str(input_shape));
  if (base_filters < 1) throw std::invalid_argument("seed_autoencoder: base_filters must be at least 1");
  NameScope names;
  const int f = base_filters;
  auto conv_bn = [](const SymbolicTensor& x, int filters) {
    return BatchNormalization()(Conv2D(filters, {3, 3}).activation("relu").padding("same")(x));
  };
  auto up_conv = [](const SymbolicTensor& x, int filters) {
    return Conv2DTranspose(filters, {2, 2}).strides({2, 2}).padding("same")(x);
  };
  const SymbolicTensor inputs = Input(std::move(input_shape));
  // encoder
  const SymbolicTensor conv1 = conv_bn(inputs, f);
  const SymbolicTensor conv2 = conv_bn(conv1, f);
  const SymbolicTensor pool1 = MaxPooling2D({2, 2})(conv2);
  const SymbolicTensor conv3 = conv_bn(pool1, 2 * f);
  const SymbolicTensor conv4 = conv_bn(conv3, 2 * f);
  const SymbolicTensor pool2 = MaxPooling2D({2, 2})(conv4);
  const SymbolicTensor conv5 = conv_bn(pool2, 4 * f);
  const SymbolicTensor conv6 = conv_bn(conv5, 4 * f);
  // decoder: the seed upsamples pool3 (1/8) to 1/4 and joins it with conv4 (1/2), which cannot line up
  const SymbolicTensor up1 = up_conv(corrected ? conv6 : MaxPooling2D({2, 2})(conv6), 2 * f);
  const SymbolicTensor merge1 = concatenate({conv4, up1});
  const SymbolicTensor conv7 = conv_bn(merge1, 2 * f);
  const SymbolicTensor conv8 = conv_bn(conv7, 2 * f);
  const SymbolicTensor up2 = up_conv(conv8, f);
  const SymbolicTensor merge2 = concatenate({conv2, up2});
  const SymbolicTensor conv9 = conv_bn(merge2, f);
  const SymbolicTensor conv10 = conv_bn(conv9, f);
  const SymbolicTensor outputs = Conv2D(output_channels, {3, 3}).padding("same").activation(output_activation)(conv10);
  return {{inputs}, {outputs}, seed, "seed_autoencoder"};
}

Model seed_autoencoder(Shape input_shape, bool corrected, uint64_t seed, int base_filters, int output_channels,
                       const std::string& output_activation) {
  NameScope names;
  return Model(seed_autoencoder_graph(std::move(input_shape), corrected, seed, base_filters, output_channels,
                                      output_activation));
}

}  // namespace tg
