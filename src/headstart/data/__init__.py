"""Reading sources into uint8 image tensors and labels; stratified label subsets."""

from headstart.data.decode import BadImage, decode_image
from headstart.data.imageset import ImageSet, collate
from headstart.data.sources import open_data
from headstart.data.subsets import label_subset, parse_budget, split_train_val

__all__ = ["BadImage", "ImageSet", "collate", "decode_image", "label_subset", "open_data", "parse_budget",
           "split_train_val"]
