// The data pipeline in one include: datasets (folders of images and masks, synthetic shapes), mask encodings,
// preprocessing, augmentation, splits, and the prefetching loader.
#pragma once
#include "data/augment.h"
#include "data/batch.h"
#include "data/data_error.h"
#include "data/dataset.h"
#include "data/folder_dataset.h"
#include "data/image_io.h"
#include "data/loader.h"
#include "data/mask.h"
#include "data/resize.h"
#include "data/split.h"
#include "data/synthetic.h"
#include "data/tensor_dataset.h"
#include "data/write_dataset.h"
