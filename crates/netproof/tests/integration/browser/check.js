(function () {
  const r = { width: window.innerWidth, scrollWidth: document.documentElement.scrollWidth };
  r.cases = Array.from(document.querySelectorAll('section.case')).map(s => s.id);
  const drawn = el => { const b = el.getBBox(); return b.width > 0 || b.height > 0; };
  r.svgs = Array.from(document.querySelectorAll('svg')).map(svg => {
    const box = svg.getBoundingClientRect();
    return {
      label: svg.getAttribute('aria-label') || '',
      topology: svg.classList.contains('topology'),
      width: box.width,
      height: box.height,
      viewbox_width: svg.viewBox.baseVal ? svg.viewBox.baseVal.width : 0,
      series: Array.from(svg.querySelectorAll('polyline, circle')).filter(drawn).length,
      paths: Array.from(svg.querySelectorAll('path')).filter(p => (p.getAttribute('d') || '').trim() !== '' && drawn(p)).length,
      boxes: svg.querySelectorAll('rect').length,
      text_px: Math.min(...Array.from(svg.querySelectorAll('text')).map(t => t.getBoundingClientRect().height).filter(h => h > 0)),
    };
  });
  r.wide = Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined && e.className ? '.' + e.className : ''))
    .slice(0, 10);
  const pre = document.createElement('pre');
  pre.id = 'np-check';
  pre.textContent = JSON.stringify(r);
  document.body.appendChild(pre);
})();
