/**
 * Uchida's white-box watermark (method.md section 8): key, embedding loss, extraction, bit error rate, and
 * the attack-and-recover story.
 *
 * <p>May import (Lady packages): attack, checkpoint, data, io, kernels, model, paper, permutation, progress,
 * report, resync, tensor, torch, train, util.
 */
package lady.watermark;
