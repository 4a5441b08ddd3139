import { GpuError } from '../errors.js'
import type { GatherPlan } from './gather.js'
import type { BackendTensor, TensorBackend } from './ops.js'
import { broadcastShapes, planConcat, planGlobalPool, planMatMul, rowsOf } from './shapes.js'
import type { Conv2dPlan } from './shapes.js'
import { transposeView } from './strided.js'
import type { StridedView } from './strided.js'
import type { Tensor } from './tensor.js'

/**
 * A backend that computes the shapes of its results and no values, through the shape functions the kernels share:
 * a model walks its graph on it to see what a run would refuse (`assertItemsRecomputable`) at the cost of its host
 * operators alone. Nothing can be read back.
 */
export class ShapeBackend implements TensorBackend<BackendTensor> {
  readonly name = 'shapes'

  fromHost(t: Tensor): BackendTensor {
    return shaped(t.shape)
  }

  toHost(): Promise<Tensor> {
    return Promise.reject(new GpuError('GPU__INVALID_INPUT', 'a shape backend holds shapes, not values to read back'))
  }

  release(): void {}

  view(_: BackendTensor, shape: readonly number[]): BackendTensor {
    return shaped(shape)
  }

  matmul(a: BackendTensor, b: BackendTensor): BackendTensor {
    return shaped(planMatMul(a.shape, b.shape).out)
  }

  binary(op: string, a: BackendTensor, b: BackendTensor): BackendTensor {
    return shaped(broadcastShapes(a.shape, b.shape, op))
  }

  unary(_: string, a: BackendTensor): BackendTensor {
    return shaped(a.shape)
  }

  softmax(a: BackendTensor): BackendTensor {
    return shaped(a.shape)
  }

  layerNorm(x: BackendTensor): BackendTensor {
    return shaped(x.shape)
  }

  transpose(a: BackendTensor, perm: readonly number[]): BackendTensor {
    return shaped(transposeView(a.shape, perm).shape)
  }

  conv2d(_: BackendTensor, __: BackendTensor, ___: BackendTensor | undefined, plan: Conv2dPlan): BackendTensor {
    return shaped([plan.n, plan.oc, plan.oh, plan.ow])
  }

  maxPool2d(_: BackendTensor, plan: Conv2dPlan): BackendTensor {
    return shaped([plan.n, plan.c, plan.oh, plan.ow])
  }

  averagePool2d(_: BackendTensor, plan: Conv2dPlan): BackendTensor {
    return shaped([plan.n, plan.c, plan.oh, plan.ow])
  }

  globalAveragePool(x: BackendTensor): BackendTensor {
    return shaped(planGlobalPool(x.shape).out)
  }

  meanRows(a: BackendTensor): BackendTensor {
    return shaped([rowsOf(a.shape)[0]])
  }

  reduceRows(op: string, a: BackendTensor): BackendTensor {
    return shaped([rowsOf(a.shape, op)[0]])
  }

  copyStrided(_: BackendTensor, view: StridedView): BackendTensor {
    return shaped(view.shape)
  }

  gather(_: BackendTensor, plan: GatherPlan): BackendTensor {
    return shaped(plan.out)
  }

  where(cond: BackendTensor, a: BackendTensor, b: BackendTensor): BackendTensor {
    return shaped(broadcastShapes(broadcastShapes(cond.shape, a.shape, 'Where'), b.shape, 'Where'))
  }

  concat(inputs: readonly BackendTensor[], axis: number): BackendTensor {
    return shaped(
      planConcat(
        inputs.map((t) => t.shape),
        axis,
      ).out,
    )
  }
}

function shaped(shape: readonly number[]): BackendTensor {
  return { shape: [...shape] }
}
