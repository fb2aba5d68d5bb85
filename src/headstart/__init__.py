"""headstart: pretrain on your own unlabeled data, adapt with few labels, and measure the gain."""
