"""Times torch.matmul on 1024x1024 fp32 (TF32 off) on CUDA and prints one JSON line.

Optional: the gpu bench runs it where python3 can import torch with a CUDA device, to compare the WGSL matmul
with cuBLAS on the same card. Usage: python3 cublas.py [n]
"""
import json
import sys
import time

import torch

n = int(sys.argv[1]) if len(sys.argv) > 1 else 1024
if not torch.cuda.is_available():
    sys.exit("CUDA is not available to torch")
# Plain fp32, like the WGSL kernel: no TF32 tensor-core shortcut.
torch.backends.cuda.matmul.allow_tf32 = False
a = torch.rand(n, n, device="cuda", dtype=torch.float32)
b = torch.rand(n, n, device="cuda", dtype=torch.float32)
for _ in range(10):
    torch.matmul(a, b)
torch.cuda.synchronize()
reps = 0
start = time.perf_counter()
while time.perf_counter() - start < 1.0:
    for _ in range(50):
        torch.matmul(a, b)
    torch.cuda.synchronize()
    reps += 50
seconds = time.perf_counter() - start
print(json.dumps({"n": n, "gflops": 2 * n**3 * reps / seconds / 1e9, "device": torch.cuda.get_device_name(0), "torch": torch.__version__}))
