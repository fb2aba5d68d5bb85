"""Dense heads on any backbone: multi-scale feature maps (`features`), detection (`detect`,
torchvision's FCOS on an FPN) and semantic segmentation (`segment`, an FPN-style decoder)."""
