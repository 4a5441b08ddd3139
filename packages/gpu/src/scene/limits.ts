/**
 * Bounds on what a scene may cost to trace, beside the size bounds of `constants.ts`: a worker loads scenes from
 * strangers, and one that is small on the wire can still make every ray slow.
 */

/**
 * Most box and triangle tests a ray may be expected to make in a scene's BVH (its surface-area-heuristic cost, see
 * `bvhTraversalCost`). Legitimate scenes measured far below it: the procedural room 38, a 1 M-triangle sphere
 * scene 47, a 1 M-triangle terrain 152, 1 M grass blades 2,300 (4 M: 8,835), 200 k leaf quads in a canopy 2,983,
 * a cube filled with 1 M hair strands 11,714; 100,000 identical thin slivers crossing the scene cost 165,535, and
 * traced 90 times slower than a small scene.
 */
export const MAX_BVH_TRAVERSAL_COST = 50_000
