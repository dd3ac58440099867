export default function uPlot() {}
