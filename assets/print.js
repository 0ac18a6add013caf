/* The statement page's Print button: print the page (the print stylesheet hides the rest). */
document.addEventListener("click", function (event) {
    if (event.target.closest("#statement-print")) {
        window.print();
    }
});
