/** The part of jStat (no bundled types) the sweep statistics use. */
declare module 'jstat' {
  const jstat: {
    studentt: {
      /** Quantile function of Student's t with `dof` degrees of freedom. */
      inv(p: number, dof: number): number
    }
  }
  export default jstat
}
