"""Block (f) of the notebook: one optimisation step."""

from __future__ import annotations


# --- notebook cell: train_step ---
def train_step(model, images, labels, optimizer, loss_fn):
    """One training step on one batch: forward, loss, backward, update.

    Args:
        model: the network, put in training mode here.
        images: ``(N, 4, H, W)`` batch of slices.
        labels: ``(N, H, W)`` integer classes.
        optimizer: e.g. ``torch.optim.Adam(model.parameters())``.
        loss_fn: ``loss_fn(logits, labels)``, e.g. your ``categorical_cross_entropy``.

    Returns:
        The loss of this batch as a Python float (before the update).
    """
    model.train()
    ### BEGIN SOLUTION
    optimizer.zero_grad()  # gradients accumulate in .grad: clear the previous step's
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION


# --- end of notebook cell ---
