"""Detection and segmentation data: YOLO, COCO JSON and mask folders -> `DenseSet`."""
